// Output previews: images, video and audio players, and the file list of a zip (read with two
// range requests: the end-of-archive record, then the central directory).
import { h, icon, bytes } from './ui.js';

export function kindOf(output) {
  const type = output.contentType || '';
  if (type.startsWith('image/')) return 'image';
  if (type.startsWith('video/')) return 'video';
  if (type.startsWith('audio/')) return 'audio';
  if (type === 'application/zip' || output.name.endsWith('.zip')) return 'zip';
  return 'file';
}

export function thumbnail(task) {
  const first = (task.outputs || [])[0];
  const kind = first ? kindOf(first) : null;
  if (kind === 'image') return h('div', { class: 'thumb' }, h('img', { src: first.url, alt: '', loading: 'lazy' }));
  if (kind === 'video' && first.contentType === 'video/mp4') {
    return h('div', { class: 'thumb' }, h('video', { src: `${first.url}#t=0.5`, muted: true, preload: 'metadata' }));
  }
  return h('div', { class: 'thumb' }, icon(kind === 'audio' ? 'audio' : kind === 'zip' ? 'zip' : task.endpoint && task.endpoint.includes('image') ? 'image' : kind || 'video'));
}

export function outputs(list) {
  return list.map((output) => {
    const kind = kindOf(output);
    const link = h('a', { href: output.url, download: output.name, class: 'small' }, `Download ${output.name}`);
    let view;
    if (kind === 'image') view = h('div', { class: 'preview' }, h('img', { src: output.url, alt: output.name, class: 'output-image' }));
    else if (kind === 'video') view = h('div', { class: 'preview' }, h('video', { src: output.url, controls: true, playsinline: true, preload: 'metadata', class: 'output-video' }));
    else if (kind === 'audio') view = h('div', { class: 'preview audio' }, h('audio', { src: output.url, controls: true, preload: 'metadata', class: 'output-audio' }));
    else if (kind === 'zip') view = zipListing(output.url);
    else view = null;
    return h('div', { class: 'output', style: 'margin-bottom: 12px' }, view, h('div', { style: 'margin-top: 6px' }, link));
  });
}

function zipListing(url) {
  const box = h('div', { class: 'zip output-zip' }, h('span', { class: 'muted small' }, 'Reading the archive…'));
  zipEntries(url).then((entries) => {
    const total = entries.reduce((sum, e) => sum + (e.size || 0), 0);
    box.replaceChildren(
      h('div', { class: 'small muted', style: 'margin-bottom: 6px' }, `${entries.length} files, ${bytes(total)} uncompressed`),
      ...entries.map((e) => h('div', { class: 'entry' }, h('span', {}, e.name), h('span', { class: 'muted' }, e.size === null ? '' : bytes(e.size)))));
  }).catch((error) => box.replaceChildren(h('span', { class: 'muted small' }, `Could not read the archive: ${error.message}`)));
  return box;
}

async function ranged(url, range) {
  const response = await fetch(url, { headers: { Range: `bytes=${range}` } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const data = new Uint8Array(await response.arrayBuffer());
  const match = /\/(\d+)$/.exec(response.headers.get('Content-Range') || '');
  const total = match ? Number(match[1]) : data.length;
  return { data, start: response.status === 206 ? total - data.length : 0, total, whole: response.status === 200 };
}

export async function zipEntries(url) {
  const tail = await ranged(url, '-65558');
  const view = new DataView(tail.data.buffer);
  let eocd = -1;
  for (let i = tail.data.length - 22; i >= 0; i--) {
    if (view.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error('not a zip archive');
  const count = view.getUint16(eocd + 10, true);
  const size = view.getUint32(eocd + 12, true);
  const offset = view.getUint32(eocd + 16, true);
  let directory;
  if (offset >= tail.start) directory = tail.data.subarray(offset - tail.start, offset - tail.start + size);
  else directory = (await ranged(url, `${offset}-${offset + size - 1}`)).data;
  const dir = new DataView(directory.buffer, directory.byteOffset, directory.byteLength);
  const decoder = new TextDecoder();
  const entries = [];
  let at = 0;
  for (let n = 0; n < count && at + 46 <= directory.length; n++) {
    if (dir.getUint32(at, true) !== 0x02014b50) break;
    const length = dir.getUint32(at + 24, true);
    const nameLength = dir.getUint16(at + 28, true);
    const extra = dir.getUint16(at + 30, true);
    const comment = dir.getUint16(at + 32, true);
    const name = decoder.decode(directory.subarray(at + 46, at + 46 + nameLength));
    entries.push({ name, size: length === 0xffffffff ? null : length });
    at += 46 + nameLength + extra + comment;
  }
  return entries;
}
