// The code for a request, as curl and the official SDKs (Python `runwayml`, Node `@runwayml/sdk`) send it.
import { API_VERSION } from './api.js';

export function curl(base, endpoint, body) {
  const json = JSON.stringify(body, null, 2).replace(/'/g, "'\\''");
  return [
    `curl -X POST ${base}${endpoint.path} \\`,
    '  -H "Authorization: Bearer $RUNWAYML_API_SECRET" \\',
    `  -H "X-Runway-Version: ${API_VERSION}" \\`,
    '  -H "Content-Type: application/json" \\',
    `  -d '${json}'`,
  ].join('\n');
}

function snake(key) {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

// A Python literal; dict keys in the SDK's snake_case (it maps them back to the API's camelCase).
function py(value, indent, keys) {
  const pad = '    '.repeat(indent + 1);
  const end = '    '.repeat(indent);
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number' || typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) {
    if (!value.length) return '[]';
    return `[\n${value.map((v) => pad + py(v, indent + 1, keys)).join(',\n')},\n${end}]`;
  }
  const entries = Object.entries(value);
  if (!entries.length) return '{}';
  return `{\n${entries.map(([k, v]) => `${pad}${JSON.stringify(keys ? snake(k) : k)}: ${py(v, indent + 1, keys)}`).join(',\n')},\n${end}}`;
}

export function python(base, endpoint, body) {
  const args = Object.entries(body).map(([k, v]) => `    ${snake(k)}=${py(v, 1, true)},`);
  return [
    'from runwayml import RunwayML',
    '',
    `client = RunwayML(base_url="${base}")  # the key comes from RUNWAYML_API_SECRET`,
    '',
    `task = client.${endpoint.sdk.python}.create(`,
    ...args,
    ').wait_for_task_output()',
    'print(task.output)',
  ].join('\n');
}

export function node(base, endpoint, body) {
  const json = JSON.stringify(body, null, 2)
    .replace(/^(\s*)"([A-Za-z_$][\w$]*)":/gm, '$1$2:')
    .split('\n')
    .map((line, i) => (i ? `    ${line}` : line))
    .join('\n');
  const head = [
    "import RunwayML from '@runwayml/sdk';",
    '',
    `const client = new RunwayML({ baseURL: '${base}' }); // the key comes from RUNWAYML_API_SECRET`,
    '',
  ];
  // An endpoint the Node SDK has no resource for is posted to directly, then waited on as a task.
  const call = endpoint.sdk.node
    ? [`const task = await client.${endpoint.sdk.node}`, `  .create(${json})`, '  .waitForTaskOutput();']
    : [
        `const { id } = await client.post('${endpoint.path}', {`,
        `  body: ${json},`,
        '});',
        'const task = await client.tasks.retrieve(id).waitForTaskOutput();',
      ];
  return [...head, ...call, 'console.log(task.output);'].join('\n');
}
