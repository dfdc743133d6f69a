// Avatars, documents and voices: the organization's library, listed, created and deleted through /v1.
// Create forms come from the request schemas in /openapi.json.
import { api, publicApi, upload } from './api.js';
import { h, clear, icon, toast, ago, statusBadge, emptyState, confirmAction, modal } from './ui.js';
import { buildForm } from './schemaform.js';

let openapi = null;

async function requestSchema(path) {
  if (!openapi) openapi = await publicApi('/openapi.json');
  const body = openapi.paths[path].post.requestBody.content['application/json'].schema;
  return { ...body, $defs: openapi.components.schemas };
}

function resource({ path, title, intro, icon: art, media, tile, noun, query = 'limit=100' }) {
  return {
    async render(root) {
      const list = h('div', { id: `${noun}-list` });
      const load = async () => {
        const page = await api(`${path}?${query}`);
        if (!page.data.length) clear(list, h('div', { class: 'card' }, emptyState(`No ${noun}s yet`, ` Create one here or with POST ${path}.`)));
        else clear(list, h('div', { class: 'tiles' }, page.data.map((item) => tileFor(item))));
        return page.data;
      };
      const tileFor = (item) => {
        const remove = h('button', { class: 'danger small', onclick: () => confirmAction(`Delete ${item.name}?`, `The ${noun} is deleted for good.`, 'Delete', async () => {
          try { await api(`${path}/${item.id}`, { method: 'DELETE' }); toast(`Deleted ${item.name}`); await load(); } catch (error) { toast(error.message, 'error'); }
        }) }, 'Delete');
        const parts = tile(item);
        return h('div', { class: 'card tile', dataset: { id: item.id } },
          h('div', { class: 'art' }, parts.image ? h('img', { src: parts.image, alt: item.name }) : icon(art)),
          h('div', { class: 'info' }, h('div', { class: 'row' }, h('span', { class: 'name' }, item.name), h('span', { class: 'spacer' }), item.status ? statusBadge(item.status) : null),
            parts.lines.filter(Boolean).map((line) => h('div', { class: 'small muted' }, line))),
          h('div', { class: 'actions' }, parts.action || null, remove));
      };
      const create = async () => {
        const form = buildForm(await requestSchema(path), { media, upload });
        const error = h('div', { role: 'alert' });
        const close = modal(`New ${noun}`, h('form', { id: `${noun}-form` }, form.element, error), [
          h('button', { onclick: () => close() }, 'Cancel'),
          h('button', { class: 'primary', onclick: async () => {
            try {
              await api(path, { method: 'POST', body: form.value() });
              close();
              toast(`Created the ${noun}`);
              await load();
            } catch (failure) {
              clear(error, h('div', { class: 'failure' }, failure.message));
            }
          } }, 'Create'),
        ]);
      };
      root.append(h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, title), h('p', {}, intro)), h('span', { class: 'spacer' }),
        h('button', { class: 'primary', onclick: create }, `New ${noun}`)), list);
      const items = await load();
      // Avatars and voices are processed in the background: refresh while any is still processing.
      let timer = null;
      const again = async () => {
        const current = await load().catch(() => []);
        if (current.some((i) => i.status === 'PROCESSING')) timer = setTimeout(again, 2000);
      };
      if (items.some((i) => i.status === 'PROCESSING')) timer = setTimeout(again, 2000);
      return () => clearTimeout(timer);
    },
  };
}

function voiceName(voice) {
  if (!voice) return '';
  return voice.type === 'custom' ? `Custom voice ${voice.name || voice.id}` : `Voice: ${voice.name || voice.presetId}`;
}

export const avatars = resource({
  path: '/v1/avatars', noun: 'avatar', title: 'Avatars', icon: 'avatar',
  intro: 'Characters for real-time sessions: a face, a voice, a personality and a knowledge base.',
  media: [{ path: 'referenceImage', kind: 'image' }],
  tile: (a) => ({
    image: a.processedImageUri || a.referenceImageUri,
    lines: [voiceName(a.voice), a.documentIds.length ? `${a.documentIds.length} document(s)` : null, a.failureReason, `Created ${ago(a.createdAt)}`],
  }),
});

export const documents = resource({
  path: '/v1/documents', noun: 'document', title: 'Documents', icon: 'doc', query: 'limit=100&sort=updatedAt&order=desc',
  intro: 'Knowledge for avatars: what they may quote in a conversation.',
  media: [],
  tile: (d) => ({ lines: [`${d.type === 'file' ? 'File' : 'Text'} document`, d.usedBy && d.usedBy.length ? `Used by ${d.usedBy.map((u) => u.name).join(', ')}` : 'Not used by an avatar', `Updated ${ago(d.updatedAt)}`] }),
});

export const voices = resource({
  path: '/v1/voices', noun: 'voice', title: 'Voices', icon: 'voice',
  intro: 'Custom voices, cloned from a sample or designed from a description, for speech and avatars.',
  media: [{ path: 'from.audio', kind: 'audio' }],
  tile: (v) => ({
    lines: [v.description, v.failureReason, `Created ${ago(v.createdAt)}`],
    action: v.previewUrl ? h('audio', { src: v.previewUrl, controls: true, preload: 'none', style: 'height: 32px; width: 100%' }) : null,
  }),
});
