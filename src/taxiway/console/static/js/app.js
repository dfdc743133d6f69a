// The console's shell: sign-in, navigation and a hash router over the views.
import { api, auth, publicApi, operatorApi, ApiError } from './api.js';
import { h, clear, icon, logo, toast, number } from './ui.js';
import * as tasks from './tasks.js';
import * as playground from './playground.js';
import * as usage from './usage.js';
import * as library from './library.js';
import * as operator from './operator.js';

const VIEWS = [
  { path: 'tasks', label: 'Tasks', icon: 'tasks', view: tasks, needs: 'key' },
  { path: 'playground', label: 'Playground', icon: 'play', view: playground, needs: 'key' },
  { path: 'usage', label: 'Usage & credits', icon: 'chart', view: usage, needs: 'key' },
  { path: 'avatars', label: 'Avatars', icon: 'avatar', view: library.avatars, needs: 'key', section: 'Library' },
  { path: 'documents', label: 'Documents', icon: 'doc', view: library.documents, needs: 'key' },
  { path: 'voices', label: 'Voices', icon: 'voice', view: library.voices, needs: 'key' },
  { path: 'operator', label: 'Operator', icon: 'shield', view: operator, needs: 'operator', section: 'Server' },
];

const app = document.getElementById('app');
const ctx = { config: null, organization: null, cleanup: null, refreshOrganization };

async function boot() {
  try {
    ctx.config = await publicApi('/console/api/config');
  } catch (error) {
    clear(app, h('div', { class: 'signin' }, h('div', { class: 'card pad' }, logo(), h('p', {}, `The server did not answer: ${error.message}`))));
    return;
  }
  if (!auth.key && !auth.operator) return signIn();
  if (auth.key) {
    try {
      await refreshOrganization();
    } catch (error) {
      auth.signOut();
      return signIn(error instanceof ApiError && error.status === 401 ? 'That key is not valid any more. Sign in again.' : error.message);
    }
  }
  shell();
}

async function refreshOrganization() {
  ctx.organization = await api('/v1/organization');
  const credits = document.getElementById('credit-balance');
  if (credits) credits.textContent = number(ctx.organization.creditBalance);
  return ctx.organization;
}

function signIn(message) {
  const key = h('input', { id: 'api-key', type: 'password', placeholder: 'key_…', autocomplete: 'off', required: true, spellcheck: false });
  const remember = h('input', { type: 'checkbox', id: 'remember' });
  const error = h('div', { class: 'field-error', role: 'alert' }, message || '');
  const submit = async (event) => {
    event.preventDefault();
    const value = key.value.trim();
    auth.setKey(value, remember.checked);
    try {
      await refreshOrganization();
    } catch (failure) {
      auth.signOut();
      error.textContent = failure instanceof ApiError && failure.status === 401
        ? 'This key is not valid, or it was revoked.' : failure.message;
      return;
    }
    if (!location.hash || location.hash === '#/operator') location.hash = '#/tasks';
    shell();
  };
  const operatorLink = ctx.config.operator
    ? h('p', { class: 'small muted', style: 'margin-top: 18px' }, 'Running this server? ',
      h('a', { href: '#/operator', id: 'operator-signin', onclick: (e) => { e.preventDefault(); operatorSignIn(); } }, 'Sign in as operator'))
    : null;
  clear(app, h('div', { class: 'signin' }, h('div', { class: 'card' },
    logo(),
    h('h1', {}, 'Sign in to the console'),
    h('p', { class: 'muted' }, 'Use an API key of your organization: the one the server printed on its first start, or one made with ',
      h('code', {}, 'taxiway keys create'), '.'),
    h('form', { onsubmit: submit },
      h('label', { class: 'field' }, h('span', { class: 'label' }, 'API key'), key, error),
      h('label', { class: 'row small muted', style: 'margin-bottom: 16px; gap: 8px' }, remember, 'Remember on this device'),
      h('button', { class: 'primary', type: 'submit', style: 'width: 100%; justify-content: center' }, 'Sign in')),
    operatorLink)));
  key.focus();
}

function operatorSignIn() {
  const token = h('input', { id: 'operator-token', type: 'password', placeholder: 'TAXIWAY_OPERATOR_TOKEN', autocomplete: 'off', required: true });
  const error = h('div', { class: 'field-error', role: 'alert' });
  const submit = async (event) => {
    event.preventDefault();
    auth.setOperator(token.value.trim(), false);
    try {
      await operatorApi('/tiers');
    } catch (failure) {
      auth.forgetOperator();
      error.textContent = failure.status === 401 ? 'That is not the operator token.' : failure.message;
      return;
    }
    location.hash = '#/operator';
    shell();
  };
  clear(app, h('div', { class: 'signin' }, h('div', { class: 'card' },
    logo(),
    h('h1', {}, 'Operator sign-in'),
    h('p', { class: 'muted' }, 'The token set in ', h('code', {}, 'TAXIWAY_OPERATOR_TOKEN'), ' when the server was started.'),
    h('form', { onsubmit: submit },
      h('label', { class: 'field' }, h('span', { class: 'label' }, 'Operator token'), token, error),
      h('button', { class: 'primary', type: 'submit', style: 'width: 100%; justify-content: center' }, 'Sign in as operator')),
    h('p', { class: 'small', style: 'margin-top: 18px' }, h('a', { href: '#/tasks', onclick: (e) => { e.preventDefault(); signIn(); } }, 'Sign in with an API key instead')))));
  token.focus();
}

function allowed(entry) {
  return entry.needs === 'key' ? Boolean(auth.key) : Boolean(ctx.config.operator && auth.operator);
}

function shell() {
  const nav = h('nav', { class: 'side', 'aria-label': 'Console' }, h('a', { href: '/', style: 'text-decoration: none' }, logo()));
  for (const entry of VIEWS) {
    if (entry.needs === 'operator' && !ctx.config.operator) continue;
    if (entry.section) nav.append(h('div', { class: 'section' }, entry.section));
    nav.append(h('a', { class: 'nav', href: `#/${entry.path}`, dataset: { path: entry.path } }, icon(entry.icon), entry.label));
  }
  nav.append(h('div', { class: 'foot' }, `taxiway ${ctx.config.version}`, h('br'),
    h('a', { href: '/docs' }, 'API reference'), ' · ', h('a', { href: '/redoc' }, 'ReDoc')));
  const title = h('div', { class: 'title', id: 'page-title' });
  const badges = h('div', { class: 'row' });
  if (auth.key && ctx.organization) {
    badges.append(h('span', { class: 'pill' }, 'Credits ', h('strong', { id: 'credit-balance' }, number(ctx.organization.creditBalance))));
  }
  if (ctx.config.testMode) badges.append(h('span', { class: 'pill', title: 'TAXIWAY_TEST_MODE is on' }, 'Test mode'));
  if (auth.operator) badges.append(h('span', { class: 'pill' }, 'Operator'));
  const out = h('button', { class: 'ghost', id: 'sign-out', onclick: () => { auth.signOut(); location.hash = ''; signIn(); } }, icon('logout'), 'Sign out');
  const content = h('div', { class: 'content', id: 'content' });
  clear(app, h('div', { class: 'shell' }, nav, h('div', { class: 'main' },
    h('header', { class: 'topbar' }, title, h('span', { class: 'spacer' }), badges, out), content)));
  route();
}

let routed = 0;

async function route() {
  const content = document.getElementById('content');
  if (!content) return;
  if (ctx.cleanup) { ctx.cleanup(); ctx.cleanup = null; }
  for (const dialog of document.querySelectorAll('.modal')) dialog.remove();
  const [path, ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  let entry = VIEWS.find((v) => v.path === path && allowed(v));
  if (!entry) {
    if (path === 'operator' && ctx.config.operator && !auth.operator) return operatorSignIn();
    if (auth.key && !VIEWS.some((v) => v.path === path && v.needs === 'key')) entry = VIEWS[0];
    else if (!auth.key && auth.operator) entry = VIEWS.find((v) => v.needs === 'operator');
    else return signIn();
  }
  for (const link of document.querySelectorAll('.side a.nav')) link.classList.toggle('active', link.dataset.path === entry.path);
  document.getElementById('page-title').textContent = entry.label;
  document.title = `${entry.label} · taxiway`;
  // Each navigation renders into a fresh element; a slower, older render finishes detached.
  const turn = ++routed;
  const view = h('div');
  clear(content, view);
  try {
    const cleanup = (await entry.view.render(view, ctx, rest.map(decodeURIComponent))) || null;
    if (turn === routed) ctx.cleanup = cleanup;
    else if (cleanup) cleanup();
  } catch (error) {
    if (turn !== routed) return;
    if (error instanceof ApiError && error.status === 401 && entry.needs === 'key') {
      auth.signOut();
      return signIn('Your key stopped working (revoked?). Sign in again.');
    }
    view.append(h('div', { class: 'card pad failure' }, error.message));
    toast(error.message, 'error');
  }
}

window.addEventListener('hashchange', () => { if (document.getElementById('content')) route(); });
boot();
