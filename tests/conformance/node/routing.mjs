// Drives Model Routers, router-driven generation, web-app usage and the audit log with the official
// Node SDK. Reads {baseURL, apiKey, held, stills} as JSON on stdin (`held`: headers that keep a task
// THROTTLED; `stills`: a router's settings) and prints what each call answered.
import RunwayML from '@runwayml/sdk';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { baseURL, apiKey, held, stills } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const client = new RunwayML({ baseURL, apiKey, maxRetries: 0 });

const created = await client.routers.create({ slug: 'node-stills', name: 'Stills', settings: { optimizeFor: 'cost' } });
const updated = await client.routers.update(created.id, { settings: stills });
const retrieved = await client.routers.retrieve(created.id);
const listed = [];
for await (const router of client.routers.list({ limit: 1 })) listed.push(router);

const image = await client.generate.image.create({ configId: 'node-stills', input: { promptText: 'a red kite' } });
const blocker = await client.textToImage.create(
  { model: 'gen4_image', promptText: 'held', ratio: '1280:720' },
  { headers: held },
);
const fallback = await client.generate.image.create({ configId: 'node-stills', input: { promptText: 'a red kite' } });
await client.tasks.delete(blocker.id);

const cheap = await client.routers.create({ slug: 'node-cheap' });
const video = await client.generate.video.create(
  { configId: 'node-cheap', input: { promptText: 'waves', duration: 2 } },
  { headers: held },
);
const audio = await client.generate.audio.create(
  { configId: 'node-cheap', input: { promptText: 'rain on a tin roof', type: 'audio', duration: 2 } },
  { headers: held },
);

// Routed tasks are ordinary tasks (the Python SDK waits for one): cancelled here, refunded.
for (const task of [image, fallback, video, audio]) await client.tasks.delete(task.id);

const requests = [];
for await (const decision of client.routers.listRequests(created.id, { limit: 10 })) requests.push(decision);
const cheapRequests = [];
for await (const decision of client.routers.listRequests(cheap.id, { limit: 10 })) cheapRequests.push(decision);
await client.routers.delete(cheap.id);
const deleted = await client.routers.retrieve(cheap.id).then(() => 200, (error) => error.status);

const today = new Date().toISOString().slice(0, 10);
const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
const usage = [];
for await (const row of client.organization.webapp.listUsage({ from: today, to: tomorrow, limit: 2 })) usage.push(row);
const page = await client.organization.webapp.auditLogs.list({ limit: 10, actions: 'PermissionRevoked' });
const revoked = await client.organization.webapp.auditLogs.retrieve(page.data[0].eventId);

process.stdout.write(
  JSON.stringify({
    created, updated, retrieved, listed, image, fallback, video, audio,
    requests: [...requests, ...cheapRequests], deleted, usage, revoked,
  }),
);
