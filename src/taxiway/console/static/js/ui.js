// Small DOM helpers shared by every view: no framework, just functions that build elements.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name === 'html') el.innerHTML = value;
    else if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name in el && typeof value !== 'string') el[name] = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const PATHS = {
  tasks: '<path d="M4 6h16M4 12h16M4 18h10"/>',
  play: '<path d="M7 4.5v15l12-7.5z"/>',
  chart: '<path d="M4 20V10M10 20V4M16 20v-7M22 20H2"/>',
  avatar: '<circle cx="12" cy="8" r="4"/><path d="M4 21c1.5-4 4.5-6 8-6s6.5 2 8 6"/>',
  doc: '<path d="M6 3h8l4 4v14H6z"/><path d="M14 3v4h4M9 12h6M9 16h6"/>',
  voice: '<path d="M12 3a3 3 0 0 1 3 3v6a3 3 0 0 1-6 0V6a3 3 0 0 1 3-3z"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3"/>',
  shield: '<path d="M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6z"/>',
  image: '<rect x="3" y="5" width="18" height="14" rx="2"/><circle cx="9" cy="10" r="2"/><path d="M21 17l-5-5-8 7"/>',
  video: '<rect x="3" y="6" width="13" height="12" rx="2"/><path d="M16 10l5-3v10l-5-3z"/>',
  audio: '<path d="M9 18V6l11-2v12"/><circle cx="6" cy="18" r="3"/><circle cx="17" cy="16" r="3"/>',
  zip: '<path d="M6 3h12v18H6z"/><path d="M12 3v2M12 7v2M12 11v2M11 15h2v3h-2z"/>',
  logout: '<path d="M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10"/>',
  copy: '<rect x="8" y="8" width="12" height="12" rx="2"/><path d="M16 8V5a1 1 0 0 0-1-1H5a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h3"/>',
  x: '<path d="M6 6l12 12M18 6L6 18"/>',
};

export function icon(name) {
  const span = document.createElement('span');
  span.style.display = 'contents';
  span.innerHTML = `<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${PATHS[name] || ''}</svg>`;
  return span.firstChild;
}

export function logo() {
  const span = h('span', { class: 'logo' });
  span.innerHTML = '<svg viewBox="0 0 32 32" aria-hidden="true"><rect width="32" height="32" rx="8" fill="#4f46e5"/><path d="M9 22 L23 10" stroke="#fff" stroke-width="3" stroke-linecap="round"/><path d="M9 14h4M19 22h4" stroke="#a5b4fc" stroke-width="2.5" stroke-linecap="round"/></svg>';
  span.append('taxiway');
  return span;
}

export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const el = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 7000 : 3500);
}

export function statusBadge(status) {
  return h('span', { class: `status ${status}` }, status.charAt(0) + status.slice(1).toLowerCase());
}

export function progressBar(value) {
  return h('div', { class: 'progress', title: `${Math.round(value * 100)}%` },
    h('div', { style: `width: ${Math.max(2, Math.round(value * 100))}%` }));
}

export function ago(iso) {
  if (!iso) return '';
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  if (seconds < 45) return 'just now';
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleDateString(undefined, { month: 'short', day: 'numeric', year: 'numeric' });
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : '—';
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

export function number(n) {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US');
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    toast('Copied to the clipboard');
  } catch {
    toast('Copy failed: select the text and copy it by hand', 'error');
  }
}

export function emptyState(title, text) {
  return h('div', { class: 'empty' }, h('strong', {}, title), text);
}

export function modal(title, body, actions = []) {
  const close = () => overlay.remove();
  const overlay = h('div', { class: 'modal', onclick: (e) => { if (e.target === overlay) close(); } },
    h('div', { class: 'card', role: 'dialog', 'aria-label': title },
      h('div', { class: 'row' }, h('h2', {}, title), h('span', { class: 'spacer' }),
        h('button', { class: 'ghost', 'aria-label': 'Close', onclick: close }, icon('x'))),
      body,
      actions.length ? h('div', { class: 'row', style: 'justify-content: flex-end; margin-top: 16px' }, actions) : null));
  document.body.append(overlay);
  return close;
}

export function confirmAction(title, text, label, run) {
  const close = modal(title, h('p', { class: 'muted' }, text), [
    h('button', { onclick: () => close() }, 'Keep'),
    h('button', { class: 'primary', onclick: async () => { close(); await run(); } }, label),
  ]);
}
