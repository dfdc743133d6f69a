// Drives taxiway with the official Node SDK. Reads {baseURL, apiKey, calls: [{resource, path, params,
// wait}]} as JSON on stdin; creates every task, waits for those marked `wait` with the SDK's own
// waitForTaskOutput, reads the others back and deletes them, and prints one JSON result per call:
// {ok, created, task} or {ok: false, status, error}.
import RunwayML from '@runwayml/sdk';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { baseURL, apiKey, calls } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const client = new RunwayML({ baseURL, apiKey, maxRetries: 0 });

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

const results = await Promise.all(calls.map(run));
process.stdout.write(JSON.stringify(results));
