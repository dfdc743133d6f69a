// Operator view: organizations, their keys, credits, tiers and test-mode simulations, and the cluster's
// status (queue, nodes, actors, resident models), through the operator API (the same functions as the
// `taxiway` CLI).
import { operatorApi, auth } from './api.js';
import { h, clear, toast, number, ago, when, copyText, icon, confirmAction, emptyState, statusBadge } from './ui.js';

const CLUSTER_POLL_MS = 3000;
const QUEUE = ['THROTTLED', 'PENDING', 'RUNNING'];

export async function render(root, ctx, [selected]) {
  if (selected) return organization(root, ctx, selected);
  const [orgs, tiers] = await Promise.all([operatorApi('/organizations'), operatorApi('/tiers')]);
  const name = h('input', { name: 'name', placeholder: 'acme', required: true, id: 'new-org-name' });
  const tier = h('select', { name: 'tier' }, tiers.map((t) => h('option', { value: t.tier }, `Tier ${t.tier}`)));
  const credits = h('input', { name: 'credits', type: 'number', min: 0, value: 1000, style: 'width: 120px' });
  const cluster = h('div', { class: 'card', id: 'cluster' }, h('div', { class: 'filters' }, h('h2', { style: 'margin: 0' }, 'Cluster')),
    h('p', { class: 'muted', style: 'padding: 0 20px' }, 'Loading…'));
  const createOrg = async (event) => {
    event.preventDefault();
    try {
      const org = await operatorApi('/organizations', { method: 'POST', body: { name: name.value.trim(), tier: Number(tier.value), credits: Number(credits.value || 0) } });
      toast(`Created ${org.name}`);
      location.hash = `#/operator/${encodeURIComponent(org.name)}`;
    } catch (error) { toast(error.message, 'error'); }
  };
  root.append(
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Organizations'), h('p', {}, 'Everyone served by this server. Changes apply at once and are kept in the ledger.')),
      h('span', { class: 'spacer' }), h('button', { class: 'ghost', onclick: () => { auth.forgetOperator(); location.hash = ''; location.reload(); } }, 'Leave operator view')),
    h('div', { class: 'card' },
      h('table', { id: 'orgs-table' }, h('thead', {}, h('tr', {}, ['Name', 'Tier', 'Credits', 'Active keys', 'Created', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, orgs.data.length ? orgs.data.map((o) => h('tr', { class: 'clickable', dataset: { org: o.name }, onclick: () => { location.hash = `#/operator/${encodeURIComponent(o.name)}`; } },
          h('td', {}, h('strong', {}, o.name), h('div', { class: 'id' }, o.id)), h('td', {}, `Tier ${o.tier}`), h('td', {}, number(o.creditBalance)),
          h('td', {}, number(o.activeKeys)), h('td', { title: when(o.createdAt) }, ago(o.createdAt)), h('td', { style: 'text-align: right' }, h('span', { class: 'muted' }, 'Manage →'))))
          : h('tr', {}, h('td', { colspan: 6 }, emptyState('No organizations', '')))))),
    h('div', { class: 'card pad' }, h('h2', {}, 'New organization'),
      h('form', { class: 'inline-form', onsubmit: createOrg },
        h('label', { class: 'field' }, h('span', { class: 'label' }, 'Name'), name),
        h('label', { class: 'field' }, h('span', { class: 'label' }, 'Tier'), tier),
        h('label', { class: 'field' }, h('span', { class: 'label' }, 'Initial credits'), credits),
        h('button', { class: 'primary', type: 'submit', id: 'create-org' }, 'Create'))),
    cluster,
    h('div', { class: 'card' }, h('div', { class: 'filters' }, h('h2', { style: 'margin: 0' }, 'Tiers')),
      h('table', {}, h('thead', {}, h('tr', {}, ['Tier', 'Concurrent per model', 'Daily per model', 'Monthly credit spend'].map((t) => h('th', {}, t)))),
        h('tbody', {}, tiers.map((t) => h('tr', {}, h('td', {}, `Tier ${t.tier}`), h('td', {}, number(t.maxConcurrentGenerations)), h('td', {}, number(t.maxDailyGenerations)), h('td', {}, number(t.maxMonthlyCreditSpend))))))));

  // The cluster's status, refreshed while the page is open (as the tasks list is).
  let stopped = false;
  let timer = null;
  const tick = async () => {
    try {
      const status = await operatorApi('/cluster');
      if (!stopped) clusterView(cluster, status);
    } catch (error) {
      if (!stopped && cluster.dataset.executor === undefined) clusterView(cluster, null, error.message);
    }
    if (!stopped) timer = setTimeout(tick, CLUSTER_POLL_MS);
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}

// What `GET /operator/cluster` returns: the queue by status, then where engines run (this process,
// or the Ray cluster's nodes and engine actors).
function clusterView(card, status, failure) {
  const head = h('div', { class: 'filters' }, h('h2', { style: 'margin: 0' }, 'Cluster'));
  if (!status) return clear(card, head, h('p', { class: 'failure', style: 'margin: 12px 20px' }, failure));
  const engines = status.engines;
  card.dataset.executor = engines.executor;
  head.append(h('span', { class: 'pill', id: 'cluster-executor' },
    engines.executor === 'ray' ? `Ray executor · namespace ${engines.namespace}` : 'Local executor: engines run in this process'),
  h('span', { class: 'spacer' }), h('span', { class: 'small muted' }, `Refreshed every ${CLUSTER_POLL_MS / 1000} s`));
  const queue = h('div', { class: 'grid3', id: 'cluster-queue', style: 'padding: 12px 14px 16px' },
    QUEUE.map((s) => h('div', { class: 'stat', dataset: { status: s } },
      h('div', { class: 'label' }, statusBadge(s)), h('div', { class: 'value' }, number(status.queue[s] || 0)))));
  const tables = engines.executor === 'ray' ? rayTables(engines) : [localTable(engines)];
  clear(card, head, h('div', { class: 'small muted', style: 'padding: 12px 14px 0' }, 'Tasks not finished yet, across every replica'), queue, tables);
}

const none = (text) => h('span', { class: 'muted' }, text);
const names = (list, empty) => (list && list.length ? list.map((n) => h('code', { style: 'margin-right: 6px' }, n)) : none(empty));
const weights = (list) => (list && list.length ? list.map((w) => h('div', { class: 'id' }, w)) : none('—'));

function localTable(engines) {
  return h('table', { id: 'cluster-engines' }, h('thead', {}, h('tr', {}, ['Engines loaded', 'Resident weights'].map((t) => h('th', {}, t)))),
    h('tbody', {}, h('tr', {}, h('td', { dataset: { engines: engines.engines.join(',') } }, names(engines.engines, 'None yet: an engine loads on its first task')),
      h('td', {}, weights(engines.weights)))));
}

function rayTables(engines) {
  const short = (id) => (id ? String(id).slice(0, 12) : '—');
  const resources = (r) => Object.entries(r || {}).filter(([k]) => !k.startsWith('node:') && k !== 'memory' && k !== 'object_store_memory')
    .sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${Number(v.toFixed(2))}`).join(', ');
  return [
    h('div', { class: 'filters' }, h('strong', {}, 'Nodes'), h('span', { class: 'muted small' }, `${engines.nodes.filter((n) => n.alive).length} alive`)),
    h('table', { id: 'cluster-nodes' }, h('thead', {}, h('tr', {}, ['Node', 'Address', 'State', 'Resources'].map((t) => h('th', {}, t)))),
      h('tbody', {}, engines.nodes.length ? engines.nodes.map((n) => h('tr', { dataset: { node: n.id } },
        h('td', { class: 'id', title: n.id }, short(n.id)), h('td', {}, n.address),
        h('td', {}, h('span', { class: `status ${n.alive ? 'SUCCEEDED' : 'FAILED'}` }, n.alive ? 'Alive' : 'Dead')),
        h('td', { class: 'small' }, resources(n.resources))))
        : h('tr', {}, h('td', { colspan: 4 }, emptyState('No nodes', ''))))),
    h('div', { class: 'filters' }, h('strong', {}, 'Engine actors'), h('span', { class: 'muted small' }, 'Made by the first task of their pool')),
    h('table', { id: 'cluster-actors' }, h('thead', {}, h('tr', {}, ['Actor', 'Node', 'GPUs', 'Engines loaded', 'Resident weights', 'Running', 'Completed'].map((t) => h('th', {}, t)))),
      h('tbody', {}, engines.actors.length ? engines.actors.map((a) => h('tr', { dataset: { actor: a.name } },
        h('td', {}, h('strong', {}, a.name), h('div', { class: 'id' }, `pool ${a.pool}`)),
        h('td', { class: 'id', title: a.node || '' }, short(a.node)),
        h('td', {}, (a.gpus || []).join(', ') || none('—')),
        h('td', {}, a.engines ? names(a.engines, 'None yet') : h('span', { class: 'status FAILED' }, a.state || 'Unreachable')),
        h('td', {}, weights(a.weights)),
        h('td', {}, number((a.running || []).length)), h('td', {}, number(a.completed))))
        : h('tr', {}, h('td', { colspan: 7 }, emptyState('No engine actors yet', ' An actor starts with the first task of its pool.'))))),
  ];
}

async function organization(root, ctx, selected) {
  const path = `/organizations/${encodeURIComponent(selected)}`;
  const org = await operatorApi(path);
  const reload = () => { clear(root); return organization(root, ctx, selected); };
  const act = (run, message) => async (event) => {
    if (event) event.preventDefault();
    try { await run(); toast(message); await reload(); } catch (error) { toast(error.message, 'error'); }
  };

  const amount = h('input', { name: 'amount', type: 'number', placeholder: '+500 or -20', id: 'credit-amount', style: 'width: 150px' });
  const note = h('input', { name: 'note', placeholder: 'Why (kept in the ledger)', style: 'width: 240px' });
  const tier = h('select', { id: 'org-tier' }, [1, 2, 3, 4, 5].map((t) => h('option', { value: t, selected: t === org.tier }, `Tier ${t}`)));
  const keyName = h('input', { name: 'name', placeholder: 'Label, e.g. ci', id: 'new-key-name' });
  const secret = h('div');

  const createKey = async (event) => {
    event.preventDefault();
    try {
      const key = await operatorApi(`${path}/keys`, { method: 'POST', body: { name: keyName.value.trim() } });
      await reload();
      root.querySelector('#new-key-box').replaceChildren(h('div', { class: 'secret', id: 'new-key' },
        h('strong', {}, 'New API key for ', org.name, ' — shown only this once'),
        h('code', { id: 'new-key-value' }, key.key),
        h('div', { class: 'row' }, h('button', { class: 'small', onclick: () => copyText(key.key) }, icon('copy'), 'Copy'),
          h('span', { class: 'small muted' }, 'Stored hashed: it cannot be shown again.'))));
    } catch (error) { toast(error.message, 'error'); }
  };

  const keyRows = org.keys.map((k) => h('tr', { dataset: { keyId: k.id, prefix: k.prefix } },
    h('td', {}, h('code', {}, `${k.prefix}…`)), h('td', {}, k.name || h('span', { class: 'muted' }, '—')),
    h('td', { title: when(k.createdAt) }, ago(k.createdAt)),
    h('td', {}, k.revokedAt ? h('span', { class: 'status FAILED' }, 'Revoked') : h('span', { class: 'status SUCCEEDED' }, 'Active')),
    h('td', { style: 'text-align: right' }, k.revokedAt ? null : h('button', { class: 'danger small', dataset: { revoke: k.prefix }, onclick: () => confirmAction(`Revoke ${k.prefix}…?`,
      'Requests with this key get 401 from now on. This cannot be undone.', 'Revoke', act(() => operatorApi(`/keys/${k.id}`, { method: 'DELETE' }), `Revoked ${k.prefix}…`)) }, 'Revoke'))));

  const simulations = h('div');
  if (org.testMode) {
    const settings = h('input', { placeholder: 'failure-rate=0.1 code=INTERNAL latency=2s..6s', id: 'simulation-settings', style: 'width: 360px' });
    const scope = h('select', { id: 'simulation-scope' }, h('option', { value: '' }, 'Whole organization'),
      org.keys.filter((k) => !k.revokedAt).map((k) => h('option', { value: k.id }, `Key ${k.prefix}…`)));
    simulations.append(
      org.simulations.length ? h('table', {}, h('tbody', {}, org.simulations.map((s) => h('tr', {},
        h('td', {}, s.keyId ? `Key ${(org.keys.find((k) => k.id === s.keyId) || { prefix: s.keyId }).prefix}…` : 'Whole organization'),
        h('td', {}, h('code', {}, s.settings)),
        h('td', { style: 'text-align: right' }, h('button', { class: 'small', onclick: act(() => operatorApi(`${path}/simulation${s.keyId ? `?keyId=${s.keyId}` : ''}`, { method: 'DELETE' }), 'Simulation cleared') }, 'Clear'))))))
        : h('p', { class: 'muted' }, 'No standing simulation: tasks behave normally.'),
      h('form', { class: 'inline-form', style: 'margin-top: 12px', onsubmit: act(() => operatorApi(`${path}/simulation`, { method: 'PUT', body: { settings: settings.value.trim().split(/\s+/).filter(Boolean), keyId: scope.value || null } }), 'Simulation set') },
        h('label', { class: 'field' }, h('span', { class: 'label' }, 'Settings'), settings),
        h('label', { class: 'field' }, h('span', { class: 'label' }, 'For'), scope),
        h('button', { type: 'submit' }, 'Set')));
  } else {
    simulations.append(h('p', { class: 'muted' }, 'Simulations need a server started with ', h('code', {}, 'TAXIWAY_TEST_MODE=1'), '.'));
  }

  root.append(
    h('div', { class: 'page-head' }, h('div', {}, h('a', { href: '#/operator', class: 'small' }, '← Organizations'), h('h1', { style: 'margin-top: 6px' }, org.name), h('p', { class: 'id' }, org.id))),
    h('div', { class: 'grid3' },
      h('div', { class: 'card pad stat' }, h('div', { class: 'label' }, 'Credit balance'), h('div', { class: 'value', id: 'org-balance' }, number(org.creditBalance))),
      h('div', { class: 'card pad stat' }, h('div', { class: 'label' }, 'Tier'), h('div', { class: 'value' }, `Tier ${org.tier}`)),
      h('div', { class: 'card pad stat' }, h('div', { class: 'label' }, 'Active keys'), h('div', { class: 'value' }, number(org.activeKeys)))),
    h('div', { class: 'grid2', style: 'margin-top: 16px' },
      h('div', { class: 'card pad' }, h('h2', {}, 'Credits'),
        h('form', { class: 'inline-form', id: 'credit-form', onsubmit: act(() => operatorApi(`${path}/credits`, { method: 'POST', body: { amount: Number(amount.value), note: note.value } }), 'Credits updated') },
          h('label', { class: 'field' }, h('span', { class: 'label' }, 'Add or remove'), amount),
          h('label', { class: 'field' }, h('span', { class: 'label' }, 'Note'), note),
          h('button', { type: 'submit', class: 'primary' }, 'Apply'))),
      h('div', { class: 'card pad' }, h('h2', {}, 'Tier'),
        h('form', { class: 'inline-form', onsubmit: act(() => operatorApi(`${path}/tier`, { method: 'PUT', body: { tier: Number(tier.value) } }), 'Tier changed') },
          h('label', { class: 'field' }, h('span', { class: 'label' }, 'Usage tier'), tier), h('button', { type: 'submit' }, 'Save')),
        h('p', { class: 'small muted', style: 'margin-bottom: 0' }, 'New limits apply to the next submissions.'))),
    h('div', { class: 'card', style: 'margin-top: 16px' },
      h('div', { class: 'filters' }, h('h2', { style: 'margin: 0' }, 'API keys'), h('span', { class: 'spacer' }),
        h('form', { class: 'inline-form', onsubmit: createKey }, keyName, h('button', { type: 'submit', class: 'primary', id: 'create-key' }, 'Create key'))),
      h('div', { id: 'new-key-box', style: 'padding: 0 14px' }, secret),
      h('table', { id: 'keys-table' }, h('thead', {}, h('tr', {}, ['Key', 'Name', 'Created', 'Status', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, keyRows.length ? keyRows : h('tr', {}, h('td', { colspan: 5 }, emptyState('No keys', ' Create one to let this organization in.')))))),
    h('div', { class: 'card pad', style: 'margin-top: 16px' }, h('h2', {}, 'Test-mode simulation'), simulations));
}
