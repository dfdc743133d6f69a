// Tasks: the organization's generations with live status, filters, previews, cancel and delete.
import { api, catalog } from './api.js';
import { h, clear, statusBadge, progressBar, ago, when, number, toast, emptyState, confirmAction, icon, copyText } from './ui.js';
import { thumbnail, outputs } from './preview.js';

const ACTIVE = ['PENDING', 'THROTTLED', 'RUNNING'];
const STATUS_FILTERS = [
  ['', 'All statuses'], ['PENDING,THROTTLED,RUNNING', 'In progress'], ['SUCCEEDED', 'Succeeded'],
  ['FAILED', 'Failed'], ['CANCELLED', 'Cancelled'],
];
const POLL_MS = 1500;

// What a task asked for, in words: its prompt (the seeds' older `text` too), if it has one.
export function promptOf(task) {
  const body = task.request || {};
  return body.promptText || body.text || '';
}

export function runAgain(task) {
  sessionStorage.setItem('taxiway.prefill', JSON.stringify(task.request || {}));
  location.hash = `#/playground/${task.endpoint}/${encodeURIComponent(task.model)}`;
}

export async function render(root, ctx, [selectedId]) {
  const cat = await catalog();
  const state = { filter: { status: '', endpoint: '', model: '' }, tasks: [], next: null, selected: selectedId || null, more: 0 };
  let timer = null;
  let stopped = false;

  const status = h('select', { id: 'filter-status', 'aria-label': 'Status' }, STATUS_FILTERS.map(([v, l]) => h('option', { value: v }, l)));
  const endpoint = h('select', { id: 'filter-endpoint', 'aria-label': 'Endpoint' }, h('option', { value: '' }, 'All endpoints'),
    cat.endpoints.map((e) => h('option', { value: e.name }, e.name)));
  const model = h('select', { id: 'filter-model', 'aria-label': 'Model' });
  const fillModels = () => {
    const models = new Set();
    for (const e of cat.endpoints) if (!endpoint.value || e.name === endpoint.value) for (const m of e.models) models.add(m.id);
    clear(model, h('option', { value: '' }, 'All models'), [...models].map((m) => h('option', { value: m }, m)));
  };
  fillModels();
  const onFilter = () => {
    state.filter = { status: status.value, endpoint: endpoint.value, model: model.value };
    state.tasks = [];
    state.next = null;
    refresh();
  };
  status.addEventListener('change', onFilter);
  endpoint.addEventListener('change', () => { fillModels(); onFilter(); });
  model.addEventListener('change', onFilter);

  const body = h('tbody');
  const table = h('table', { id: 'tasks-table' },
    h('thead', {}, h('tr', {}, h('th', { style: 'width: 72px' }), h('th', {}, 'Task'), h('th', {}, 'Model'), h('th', {}, 'Status'), h('th', {}, 'Credits'), h('th', {}, 'Created'))),
    body);
  const moreButton = h('button', { class: 'small', onclick: () => loadMore() }, 'Load more');
  const footer = h('div', { class: 'row', style: 'justify-content: center; padding: 12px' }, moreButton);
  const listCard = h('div', { class: 'card', style: 'overflow-x: auto' }, h('div', { class: 'filters' }, status, endpoint, model, h('span', { class: 'spacer' }),
    h('span', { class: 'small muted', id: 'live' }, 'Live')), table, footer);
  const detail = h('aside', { class: 'card detail hidden', id: 'task-detail' });
  const layout = h('div', { class: 'tasks-layout closed' }, listCard, detail);
  root.append(
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Tasks'), h('p', {}, 'Every generation of your organization, newest first, updated live.')),
      h('span', { class: 'spacer' }), h('a', { class: 'button primary', href: '#/playground' }, icon('play'), 'New generation')),
    layout);

  function query(cursor, limit) {
    const params = new URLSearchParams({ limit: String(limit) });
    for (const [k, v] of Object.entries(state.filter)) if (v) params.set(k, v);
    if (cursor) params.set('cursor', cursor);
    return `/console/api/tasks?${params}`;
  }

  async function refresh() {
    const limit = Math.min(100, Math.max(25, state.tasks.length));
    const page = await api(query(null, limit));
    if (stopped) return;
    state.tasks = page.data;
    if (state.tasks.length <= limit) state.next = page.nextCursor;
    draw();
  }

  async function loadMore() {
    if (!state.next) return;
    const page = await api(query(state.next, 25));
    state.tasks = state.tasks.concat(page.data.filter((t) => !state.tasks.some((s) => s.id === t.id)));
    state.next = page.nextCursor;
    draw();
  }

  function draw() {
    if (!state.tasks.length) {
      clear(body, h('tr', {}, h('td', { colspan: 6 }, emptyState('No tasks yet', h('span', {}, ' Start one from the ', h('a', { href: '#/playground' }, 'playground'), ', the SDKs or curl.')))));
    } else {
      clear(body, state.tasks.map(row));
    }
    moreButton.classList.toggle('hidden', !state.next);
    drawDetail();
  }

  function row(task) {
    const prompt = promptOf(task);
    const statusCell = h('td', {}, statusBadge(task.status));
    if (task.status === 'RUNNING') statusCell.append(h('div', { style: 'margin-top: 6px; max-width: 120px' }, progressBar(task.progress || 0)));
    const credits = task.cost ? task.cost.credits : task.estimatedCost ? task.estimatedCost.credits : null;
    return h('tr', {
      class: `clickable${task.id === state.selected ? ' selected' : ''}`, dataset: { taskId: task.id, status: task.status },
      onclick: () => select(task.id),
    },
      h('td', {}, thumbnail(task)),
      h('td', {}, h('div', { class: 'prompt' }, prompt || h('span', { class: 'muted' }, task.endpoint)), h('div', { class: 'id' }, task.id)),
      h('td', {}, h('div', {}, task.model), h('div', { class: 'small muted' }, task.endpoint)),
      statusCell,
      h('td', {}, number(credits), task.cost ? '' : h('span', { class: 'muted small' }, ' est.')),
      h('td', { title: when(task.createdAt) }, ago(task.createdAt)));
  }

  function select(id) {
    state.selected = state.selected === id ? null : id;
    history.replaceState(null, '', state.selected ? `#/tasks/${state.selected}` : '#/tasks');
    draw();
  }

  let shownKey = '';
  function drawDetail() {
    const task = state.tasks.find((t) => t.id === state.selected);
    layout.classList.toggle('closed', !task);
    detail.classList.toggle('hidden', !task);
    if (!task) { shownKey = ''; return; }
    // Rebuild only when something visible changed, so players keep playing while the list polls.
    const key = `${task.id}:${task.status}:${task.progress}`;
    if (key === shownKey) return;
    shownKey = key;
    clear(detail, taskDetail(task, {
      onDeleted: () => { state.selected = null; history.replaceState(null, '', '#/tasks'); refresh(); ctx.refreshOrganization(); },
      onClose: () => select(task.id),
    }));
  }

  async function tick() {
    try { await refresh(); } catch { /* the next tick tries again */ }
    if (!stopped) timer = setTimeout(tick, POLL_MS);
  }
  await refresh();
  timer = setTimeout(tick, POLL_MS);
  return () => { stopped = true; clearTimeout(timer); };
}

export function taskDetail(task, { onDeleted, onClose } = {}) {
  const active = ACTIVE.includes(task.status);
  const actions = h('div', { class: 'row' });
  if (active) {
    actions.append(h('button', { class: 'danger small', id: 'cancel-task', onclick: () => confirmAction('Cancel this task?',
      task.status === 'RUNNING' ? 'It stops at its next step; the credits already used are kept.' : 'It has not started: its credits are refunded.',
      'Cancel task', () => remove(task, 'cancelled', onDeleted)) }, 'Cancel'));
  } else {
    actions.append(h('button', { class: 'danger small', id: 'delete-task', onclick: () => confirmAction('Delete this task?',
      'The task and its outputs are deleted for good.', 'Delete', () => remove(task, 'deleted', onDeleted)) }, 'Delete'));
  }
  if (task.request && task.endpoint) actions.prepend(h('button', { class: 'small', onclick: () => runAgain(task) }, 'Open in playground'));
  const credits = task.cost ? `${number(task.cost.credits)} charged` : `${number(task.estimatedCost.credits)} reserved`;
  const body = h('div', { class: 'body' });
  if (task.status === 'RUNNING') body.append(h('div', { class: 'row', style: 'margin-bottom: 12px' }, h('div', { style: 'flex: 1' }, progressBar(task.progress || 0)), h('span', { class: 'small muted' }, `${Math.round((task.progress || 0) * 100)}%`)));
  if (task.status === 'FAILED') body.append(h('div', { class: 'failure' }, task.failureCode ? h('code', {}, task.failureCode) : null, task.failureCode ? h('br') : null, task.failure));
  if (task.status === 'SUCCEEDED') body.append(h('div', { id: 'task-outputs' }, outputs(task.outputs || [])));
  body.append(h('dl', { class: 'kv' },
    h('dt', {}, 'Task'), h('dd', { class: 'mono' }, task.id, ' ', h('button', { class: 'ghost small', title: 'Copy', onclick: () => copyText(task.id) }, icon('copy'))),
    h('dt', {}, 'Endpoint'), h('dd', {}, task.endpoint ? h('code', {}, `POST /v1/${task.endpoint}`) : '—'),
    h('dt', {}, 'Model'), h('dd', {}, task.model || '—'),
    h('dt', {}, 'Credits'), h('dd', {}, credits),
    h('dt', {}, 'Created'), h('dd', {}, when(task.createdAt)),
    task.startedAt ? [h('dt', {}, 'Started'), h('dd', {}, when(task.startedAt))] : null,
    task.finishedAt ? [h('dt', {}, 'Finished'), h('dd', {}, when(task.finishedAt))] : null));
  if (task.request) body.append(h('h3', {}, 'Request'), h('pre', { class: 'json' }, JSON.stringify(task.request, null, 2)));
  body.prepend(h('div', { class: 'row', style: 'margin-bottom: 14px' }, actions));
  return [
    h('div', { class: 'head' }, statusBadge(task.status), h('strong', { class: 'prompt', style: 'flex: 1' }, promptOf(task) || task.model || 'Task'),
      onClose ? h('button', { class: 'ghost', 'aria-label': 'Close', onclick: onClose }, icon('x')) : null),
    body,
  ];
}

async function remove(task, verb, done) {
  try {
    await api(`/v1/tasks/${task.id}`, { method: 'DELETE' });
    toast(`Task ${verb}`);
    if (done) done();
  } catch (error) {
    toast(error.message, 'error');
  }
}
