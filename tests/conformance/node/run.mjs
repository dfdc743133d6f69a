// Drives taxiway with the official Node SDK. Reads {baseURL, apiKey, calls: [{resource, path, params,
// wait}]} as JSON on stdin; creates every task, waits for those marked `wait` with the SDK's own
// waitForTaskOutput, reads the others back and deletes them, and prints one JSON result per call:
// {ok, created, task} or {ok: false, status, error}.
import RunwayML from '@runwayml/sdk';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { baseURL, apiKey, calls } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
// A busy machine may take long to answer: the tests wait on the server, not on a short fixed timeout.
const client = new RunwayML({ baseURL, apiKey, maxRetries: 0, timeout: 600_000 });

// Endpoints the SDK has no method for (video_to_audio) are posted with its raw `post` and polled with
// `tasks.retrieve`, as an app would.
async function finished(id) {
  const deadline = Date.now() + 1_200_000;
  for (;;) {
    const task = await client.tasks.retrieve(id);
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(task.status)) return task;
    if (Date.now() > deadline) throw new Error(`task ${id} did not finish`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function run({ resource, path, params, wait }) {
  try {
    const pending = path ? client.post(path, { body: params }) : client[resource].create(params);
    const created = await pending;
    let task;
    if (!wait) {
      task = await client.tasks.retrieve(created.id);
      await client.tasks.delete(created.id);
    } else if (path) {
      task = await finished(created.id);
    } else {
      task = await pending.waitForTaskOutput({ timeout: 1_200_000 });
    }
    return { ok: true, created, task };
  } catch (error) {
    return {
      ok: false,
      status: error.status ?? null,
      error: error.error ?? error.taskDetails ?? String(error),
    };
  }
}

// The calls waited for start at once; the others go a few at a time, as an app's requests would.
const results = new Array(calls.length);
const waited = calls.map((call, index) => [call, index]).filter(([call]) => call.wait);
const brief = calls.map((call, index) => [call, index]).filter(([call]) => !call.wait);
async function drain() {
  for (let next = brief.shift(); next; next = brief.shift()) results[next[1]] = await run(next[0]);
}
await Promise.all([
  ...waited.map(async ([call, index]) => (results[index] = await run(call))),
  ...Array.from({ length: 4 }, drain),
]);
process.stdout.write(JSON.stringify(results));
