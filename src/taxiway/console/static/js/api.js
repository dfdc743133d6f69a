// The console's only way to the server: the public /v1 API with the user's key, the console's own
// small API, and the operator API with the operator token. Keys stay in this browser's storage.

export const API_VERSION = '2024-11-06';
const KEY = 'taxiway.apiKey';
const OPERATOR = 'taxiway.operatorToken';

function stored(name) {
  return sessionStorage.getItem(name) || localStorage.getItem(name) || '';
}

export const auth = {
  get key() { return stored(KEY); },
  get operator() { return stored(OPERATOR); },
  save(name, value, remember) {
    (remember ? localStorage : sessionStorage).setItem(name, value);
  },
  setKey(value, remember) { this.save(KEY, value, remember); },
  setOperator(value, remember) { this.save(OPERATOR, value, remember); },
  signOut() {
    for (const store of [sessionStorage, localStorage]) { store.removeItem(KEY); store.removeItem(OPERATOR); }
  },
  forgetOperator() { sessionStorage.removeItem(OPERATOR); localStorage.removeItem(OPERATOR); },
};

export class ApiError extends Error {
  constructor(status, body) {
    const issues = (body && body.issues) || [];
    const detail = issues.map((i) => i.message).filter(Boolean).join('; ');
    super((body && body.error ? body.error : `HTTP ${status}`) + (detail ? `: ${detail}` : ''));
    this.status = status;
    this.body = body;
    this.issues = issues;
  }
}

async function send(path, { method = 'GET', body, token, runway = true, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (runway) init.headers['X-Runway-Version'] = API_VERSION;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: text }; }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// The Runway API and the console's API, as the signed-in organization.
export function api(path, options = {}) {
  return send(path, { ...options, token: auth.key });
}

// The operator API, with the operator token.
export function operatorApi(path, options = {}) {
  return send(`/operator${path}`, { ...options, token: auth.operator, runway: false });
}

export function publicApi(path) {
  return send(path, { runway: false });
}

// An upload as the SDKs do it: ask /v1/uploads for a form, POST the file to it, use its runway:// URI.
export async function upload(file) {
  const slot = await api('/v1/uploads', { method: 'POST', body: { filename: file.name, type: 'ephemeral' } });
  const form = new FormData();
  for (const [name, value] of Object.entries(slot.fields || {})) form.append(name, value);
  form.append('file', file, file.name);
  let response;
  try {
    response = await fetch(slot.uploadUrl, { method: 'POST', body: form });
  } catch (error) {
    // The server names its own public URL; reached under another name, post to this origin instead.
    const url = new URL(slot.uploadUrl, location.href);
    if (url.origin === location.origin) throw error;
    response = await fetch(url.pathname + url.search, { method: 'POST', body: form });
  }
  if (!response.ok) {
    let body = null;
    try { body = await response.json(); } catch { body = { error: await response.text() }; }
    throw new ApiError(response.status, body);
  }
  return slot.runwayUri;
}

let catalogPromise = null;

// The model catalog as the server declares it (endpoints, models, request schemas), fetched once.
export function catalog() {
  if (!catalogPromise) catalogPromise = publicApi('/console/api/catalog');
  return catalogPromise;
}
