// Playground: pick an endpoint and model from the catalog, fill a form built from its request
// schema, send it with the user's key, watch the task and see the code for the same request.
import { api, catalog, upload } from './api.js';
import { h, clear, icon, toast, copyText, statusBadge } from './ui.js';
import { buildForm } from './schemaform.js';
import * as snippets from './snippets.js';
import { taskDetail } from './tasks.js';

const TYPES = { png: 'image/png', jpg: 'image/jpeg', webp: 'image/webp', mp4: 'video/mp4', mov: 'video/quicktime', mp3: 'audio/mpeg', wav: 'audio/wav', zip: 'application/zip' };
const LANGUAGES = [['curl', 'curl'], ['python', 'Python'], ['node', 'Node.js']];

export async function render(root, ctx, [endpointName, modelId]) {
  const cat = await catalog();
  const endpoint = cat.endpoints.find((e) => e.name === endpointName) || cat.endpoints[0];
  const model = endpoint.models.find((m) => m.id === modelId) || endpoint.models[0];
  const prefill = JSON.parse(sessionStorage.getItem('taxiway.prefill') || '{}');
  sessionStorage.removeItem('taxiway.prefill');
  const base = location.origin;
  let language = localStorage.getItem('taxiway.language') || 'curl';
  let poll = null;

  const endpointPicker = h('select', { id: 'pg-endpoint', 'aria-label': 'Endpoint' },
    ['image', 'video', 'audio'].map((kind) => h('optgroup', { label: kind[0].toUpperCase() + kind.slice(1) },
      cat.endpoints.filter((e) => e.output === kind).map((e) => h('option', { value: e.name, selected: e === endpoint }, e.path)))));
  const modelPicker = h('select', { id: 'pg-model', 'aria-label': 'Model' },
    endpoint.models.map((m) => h('option', { value: m.id, selected: m === model }, m.legacy ? `${m.id} (legacy)` : m.id)));
  endpointPicker.addEventListener('change', () => { location.hash = `#/playground/${endpointPicker.value}`; });
  modelPicker.addEventListener('change', () => { location.hash = `#/playground/${endpoint.name}/${encodeURIComponent(modelPicker.value)}`; });

  const form = buildForm(model.schema, { media: model.media, defaults: model.defaults, upload, prefill, skip: ['model'] });
  const body = () => ({ model: model.id, ...form.value() });
  const issues = h('div', { id: 'pg-issues', role: 'alert' });
  const submit = h('button', { class: 'primary', type: 'submit', id: 'pg-submit' }, icon('play'), 'Generate');
  const formEl = h('form', { id: 'pg-form', novalidate: true, onsubmit: (e) => { e.preventDefault(); send(); } },
    form.element, issues, h('div', { class: 'row' }, submit, h('span', { class: 'small muted' }, `Sent as POST ${endpoint.path} with your key.`)));

  const tabs = h('div', { class: 'tabs bar' });
  const code = h('pre', { id: 'pg-code' });
  const copy = h('button', { class: 'ghost small copy', onclick: () => copyText(code.textContent) }, icon('copy'), 'Copy');
  function drawTabs() {
    clear(tabs, LANGUAGES.map(([id, name]) => h('button', { class: id === language ? 'active' : '', dataset: { lang: id }, onclick: () => {
      language = id;
      localStorage.setItem('taxiway.language', id);
      drawTabs();
      drawCode();
    } }, name)), copy);
  }
  function drawCode() { code.textContent = snippets[language](base, endpoint, body()); }
  drawTabs();
  drawCode();
  formEl.addEventListener('input', drawCode);
  formEl.addEventListener('change', drawCode);
  const result = h('div', { class: 'result', id: 'pg-result' });

  root.append(
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Playground'), h('p', {}, 'Every endpoint and model of the catalog. The form is the request body; the code beside it sends the same request.'))),
    h('div', { class: 'pg' },
      h('div', { class: 'card pad' },
        h('div', { class: 'pickers' },
          h('label', { class: 'field' }, h('span', { class: 'label' }, 'Endpoint'), endpointPicker),
          h('label', { class: 'field' }, h('span', { class: 'label' }, 'Model'), modelPicker)),
        h('div', { class: 'model-info' }, h('div', {}, endpoint.summary), model.description ? h('div', { style: 'margin-top: 4px' }, model.description) : null,
          h('div', { class: 'price', style: 'margin-top: 4px' }, `Price: ${model.price}`)),
        formEl),
      h('div', {}, h('div', { class: 'code' }, tabs, code), result)));

  async function send() {
    clear(issues);
    submit.disabled = true;
    try {
      const created = await api(endpoint.path, { method: 'POST', body: body() });
      toast(`Task created: ${created.estimatedCost.credits} credits reserved`);
      ctx.refreshOrganization().catch(() => {});
      watch(created.id);
    } catch (error) {
      const list = (error.issues || []).map((i) => h('li', {}, i.message || JSON.stringify(i)));
      clear(issues, h('div', { class: 'failure', style: 'margin-bottom: 14px' }, error.body && error.body.error ? error.body.error : error.message,
        list.length ? h('ul', { style: 'margin: 6px 0 0; padding-left: 18px' }, list) : null));
    } finally {
      submit.disabled = false;
    }
  }

  function watch(id) {
    if (poll) clearTimeout(poll);
    let last = '';
    const tick = async () => {
      let task;
      try {
        task = await api(`/v1/tasks/${id}`);
      } catch (error) {
        clear(result, h('div', { class: 'card pad failure' }, error.message));
        return;
      }
      const view = {
        ...task, endpoint: endpoint.name, model: model.id,
        outputs: (task.output || []).map((url) => {
          const name = new URL(url).pathname.split('/').pop();
          return { url, name, contentType: TYPES[name.split('.').pop()] };
        }),
      };
      const key = `${task.status}:${task.progress}`;
      if (key !== last) {
        last = key;
        clear(result, h('div', { class: 'card detail', id: 'pg-task', dataset: { status: task.status } }, taskDetail(view, {
          onDeleted: () => { clear(result); ctx.refreshOrganization().catch(() => {}); },
        })));
      }
      if (['PENDING', 'THROTTLED', 'RUNNING'].includes(task.status)) poll = setTimeout(tick, 700);
      else ctx.refreshOrganization().catch(() => {});
    };
    clear(result, h('div', { class: 'card pad' }, statusBadge('PENDING'), ' Submitted…'));
    tick();
  }

  return () => { if (poll) clearTimeout(poll); };
}
