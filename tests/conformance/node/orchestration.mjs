// Drives workflows and recipes with the official Node SDK. Reads {baseURL, apiKey, workflowId,
// nodeOutputs, recipes: [{method, params}]} as JSON on stdin; lists, retrieves and runs the workflow and
// waits for its invocation with the SDK's own waitForTaskOutput; creates every recipe task, reads it back
// and deletes it (their outputs are checked through the Python SDK). Prints
// {workflows, workflow, invocation, recipes: [{ok, created, task} | {ok: false, status, error}]}.
import RunwayML from '@runwayml/sdk';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { baseURL, apiKey, workflowId, nodeOutputs, recipes } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const client = new RunwayML({ baseURL, apiKey, maxRetries: 0 });

function failure(error) {
  return { ok: false, status: error.status ?? null, error: error.error ?? error.taskDetails ?? String(error) };
}

async function recipe({ method, params }) {
  try {
    const created = await client.recipes[method](params);
    const task = await client.tasks.retrieve(created.id);
    await client.tasks.delete(created.id);
    return { ok: true, created, task };
  } catch (error) {
    return failure(error);
  }
}

async function workflow() {
  const workflows = await client.workflows.list();
  const found = await client.workflows.retrieve(workflowId);
  const run = await client.workflows.run(workflowId, { nodeOutputs });
  const invocation = await client.workflowInvocations.retrieve(run.id).waitForTaskOutput({ timeout: 240_000 });
  return { workflows, workflow: found, invocation };
}

const [flow, ...done] = await Promise.all([workflow().catch(failure), ...(recipes ?? []).map(recipe)]);
process.stdout.write(JSON.stringify({ ...flow, recipes: done }));
