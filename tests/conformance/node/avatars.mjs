// Drives taxiway's realtime sessions with `@runwayml/avatars/api`, the server-side helpers a web app
// uses next to the Node SDK: `pollUntilReady` (API key) and `consumeSession` (session key, as the
// browser calls it). Reads {baseUrl, apiKey} as JSON on stdin and prints one JSON report: what each
// step returned, or the AvatarError it raised as {code, message}.
import RunwayML from '@runwayml/sdk';
import { clientTool, consumeSession, pageActionTools, pollUntilReady } from '@runwayml/avatars/api';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { baseUrl, apiKey } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const client = new RunwayML({ baseURL: baseUrl, apiKey, maxRetries: 0 });
const polling = { baseUrl, apiKey, intervalMs: 100, timeoutMs: 20_000 };

async function outcome(promise) {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, name: error.name, code: error.code ?? null, message: error.message };
  }
}

// The tools as the package documents them: its page actions plus one of the app's own.
const showCaption = clientTool('show_caption', {
  description: 'Display a caption under the avatar',
  args: {},
});
const tools = [...pageActionTools, { ...showCaption }];
const { id: sessionId } = await client.realtimeSessions.create({
  model: 'gwm1_avatars',
  avatar: { type: 'runway-preset', presetId: 'cooking-teacher' },
  maxDuration: 60,
  tools,
});

const ready = await outcome(pollUntilReady({ ...polling, sessionId }));
const sessionKey = ready.ok ? ready.value.sessionKey : 'stk_missing';
const wrongKey = await outcome(consumeSession({ sessionId, sessionKey: `stk_${'0'.repeat(64)}`, baseUrl }));
const consumed = await outcome(consumeSession({ sessionId, sessionKey, baseUrl }));
const again = await outcome(consumeSession({ sessionId, sessionKey, baseUrl }));

const { id: cancelledId } = await client.realtimeSessions.create({
  model: 'gwm1_avatars',
  avatar: { type: 'runway-preset', presetId: 'cooking-teacher' },
});
await client.realtimeSessions.delete(cancelledId);
const cancelled = await outcome(pollUntilReady({ ...polling, sessionId: cancelledId }));
const unknown = await outcome(pollUntilReady({ ...polling, sessionId: '00000000-0000-4000-8000-000000000000' }));
const badApiKey = await outcome(pollUntilReady({ ...polling, sessionId, apiKey: 'key_not-a-real-key' }));

process.stdout.write(
  JSON.stringify({
    sessionId,
    toolNames: tools.map((tool) => tool.name),
    ready,
    wrongKey,
    consumed,
    again,
    cancelledId,
    cancelled,
    unknown,
    badApiKey,
  }),
);
