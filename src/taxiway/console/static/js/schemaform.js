// Forms built from a JSON schema (the catalog's request schemas, or /openapi.json components):
// every field of every model gets a control, media fields an upload button, and the form's value is
// exactly the JSON body the API takes, with unset optional fields left out.
import { h, clear } from './ui.js';

const LONG_TEXT = /prompt|text|script|personality|content|description|instructions/i;

export function buildForm(schema, options = {}) {
  const ctx = {
    defs: schema.$defs || {},
    media: options.media || [],
    defaults: options.defaults || {},
    upload: options.upload,
    skip: new Set(options.skip || []),
  };
  const root = objectControl(resolve(schema, ctx), '', ctx, options.prefill || {}, true);
  return { element: root.el, value: () => root.value() || {} };
}

function resolve(node, ctx) {
  let current = node || {};
  for (let i = 0; current.$ref && i < 20; i++) current = ctx.defs[current.$ref.split('/').pop()] || {};
  return current;
}

function variants(node) {
  const list = node.anyOf || node.oneOf;
  return list ? list.filter((v) => v.type !== 'null') : null;
}

function mediaKind(path, ctx, sibling) {
  const rule = ctx.media.find((m) => m.path === path);
  if (!rule) return null;
  return rule.kind || sibling || 'any';
}

function label(name, required) {
  return h('span', { class: 'label' }, name, required ? h('span', { class: 'req', title: 'required' }, '*') : null);
}

function hint(node, name, ctx) {
  const parts = [];
  if (node.description) parts.push(node.description);
  if (name in ctx.defaults && ctx.defaults[name] !== null && typeof ctx.defaults[name] !== 'object') parts.push(`Default: ${ctx.defaults[name]}`);
  return parts.length ? h('div', { class: 'hint' }, parts.join(' · ')) : null;
}

// A control: { el, value() } where value() is undefined when the field is unset.
function control(node, path, name, ctx, initial, required, sibling) {
  const choices = variants(node);
  const optional = !required;
  if (choices && choices.length === 1) return control({ ...node, ...resolve(choices[0], ctx), anyOf: undefined, oneOf: undefined }, path, name, ctx, initial, required, sibling);
  if (choices && choices.length > 1) return variantControl(node, choices, path, name, ctx, initial, required);
  const spec = { ...node, ...resolve(node, ctx) };
  if (spec.$ref) delete spec.$ref;
  if ('const' in spec) return { el: null, value: () => spec.const };
  if (spec.enum) return enumControl(spec, name, ctx, initial, required);
  if (spec.type === 'object' || spec.properties) return objectControl(spec, path, ctx, initial, required, name);
  if (spec.type === 'array') return arrayControl(spec, path, name, ctx, initial, required);
  if (spec.type === 'boolean') return booleanControl(spec, name, ctx, initial, required);
  if (spec.type === 'integer' || spec.type === 'number') return numberControl(spec, name, ctx, initial, required);
  if (spec.type === 'string') {
    const kind = mediaKind(path, ctx, sibling);
    if (kind) return mediaControl(spec, name, ctx, initial, required, kind);
    return textControl(spec, name, ctx, initial, required);
  }
  return jsonControl(spec, name, ctx, initial, optional);
}

function field(name, required, input, node, ctx) {
  return h('label', { class: 'field', dataset: { field: name } }, label(name, required), input, hint(node, name, ctx));
}

function textControl(spec, name, ctx, initial, required) {
  const long = LONG_TEXT.test(name) || (spec.maxLength || 0) > 300;
  const attrs = { name, placeholder: spec.examples ? String(spec.examples[0]) : '', maxlength: spec.maxLength && spec.maxLength < 1e6 ? spec.maxLength : undefined, spellcheck: long };
  const input = long ? h('textarea', { ...attrs, rows: 3 }) : h('input', { ...attrs, type: 'text' });
  if (typeof initial === 'string') input.value = initial;
  return { el: field(name, required, input, spec, ctx), value: () => (input.value === '' ? undefined : input.value) };
}

function numberControl(spec, name, ctx, initial, required) {
  const input = h('input', { name, type: 'number', min: spec.minimum, max: spec.maximum, step: spec.type === 'integer' ? 1 : 'any',
    placeholder: [spec.minimum, spec.maximum].every((v) => v !== undefined) ? `${spec.minimum} – ${spec.maximum}` : '' });
  if (typeof initial === 'number') input.value = String(initial);
  return { el: field(name, required, input, spec, ctx), value: () => (input.value === '' ? undefined : Number(input.value)) };
}

function enumControl(spec, name, ctx, initial, required) {
  const select = h('select', { name });
  const fallback = ctx.defaults[name];
  if (!required) select.append(h('option', { value: '' }, fallback !== undefined ? `Default (${fallback})` : 'Not set'));
  spec.enum.forEach((v, i) => select.append(h('option', { value: String(i) }, String(v))));
  const found = spec.enum.findIndex((v) => v === initial);
  if (found >= 0) select.value = String(found);
  else if (required) select.value = '0';
  return { el: field(name, required, select, spec, ctx), value: () => (select.value === '' ? undefined : spec.enum[Number(select.value)]) };
}

function booleanControl(spec, name, ctx, initial, required) {
  const select = h('select', { name },
    h('option', { value: '' }, ctx.defaults[name] !== undefined ? `Default (${ctx.defaults[name]})` : 'Not set'),
    h('option', { value: 'true' }, 'true'), h('option', { value: 'false' }, 'false'));
  if (typeof initial === 'boolean') select.value = String(initial);
  return { el: field(name, required, select, spec, ctx), value: () => (select.value === '' ? undefined : select.value === 'true') };
}

function jsonControl(spec, name, ctx, initial, optional) {
  const input = h('textarea', { name, rows: 3, class: 'mono', placeholder: 'JSON' });
  if (initial !== undefined) input.value = JSON.stringify(initial, null, 2);
  return {
    el: field(name, !optional, input, spec, ctx),
    value: () => {
      if (input.value.trim() === '') return undefined;
      try { return JSON.parse(input.value); } catch { return input.value; }
    },
  };
}

function mediaControl(spec, name, ctx, initial, required, kind) {
  const accept = kind === 'any' ? 'image/*,video/*,audio/*' : `${kind}/*`;
  const input = h('input', { name, type: 'text', placeholder: 'https://…, runway://… or data:… — or upload a file', spellcheck: false });
  if (typeof initial === 'string') input.value = initial;
  const status = h('div', { class: 'hint' });
  const preview = h('div');
  const file = h('input', { type: 'file', accept, 'aria-label': `Upload ${name}`, dataset: { media: name } });
  file.addEventListener('change', async () => {
    const chosen = file.files && file.files[0];
    if (!chosen || !ctx.upload) return;
    status.textContent = `Uploading ${chosen.name}…`;
    try {
      input.value = await ctx.upload(chosen);
      status.textContent = `Uploaded ${chosen.name}: usable for 24 hours as its runway:// URI.`;
      const local = URL.createObjectURL(chosen);
      clear(preview, chosen.type.startsWith('image/') ? h('img', { class: 'media-preview', src: local, alt: '' })
        : chosen.type.startsWith('video/') ? h('video', { class: 'media-preview', src: local, muted: true })
          : chosen.type.startsWith('audio/') ? h('audio', { src: local, controls: true, style: 'margin-top: 8px; width: 100%' }) : null);
      input.dispatchEvent(new Event('input', { bubbles: true }));
    } catch (error) {
      status.textContent = `Upload failed: ${error.message}`;
    }
    file.value = '';
  });
  const row = h('div', { class: 'media' }, input, h('span', { class: 'button upload small' }, `Upload ${kind === 'any' ? 'file' : kind}`, file));
  const box = h('label', { class: 'field', dataset: { field: name } }, label(name, required), row, status, preview, hint(spec, name, ctx));
  return { el: box, value: () => (input.value.trim() === '' ? undefined : input.value.trim()) };
}

function objectControl(spec, path, ctx, initial, required, name) {
  const props = spec.properties || {};
  const needed = new Set(spec.required || []);
  const children = [];
  const box = name ? h('fieldset', { dataset: { field: name } }, h('legend', {}, name, needed.size && required ? h('span', { class: 'req' }, '*') : '')) : h('div');
  const sibling = props.type && 'const' in resolve(props.type, ctx) ? resolve(props.type, ctx).const : undefined;
  const ordered = Object.keys(props).sort((a, b) => Number(needed.has(b)) - Number(needed.has(a)));
  for (const key of ordered) {
    if (!name && ctx.skip.has(key)) continue;
    const childPath = path ? `${path}.${key}` : key;
    const child = control(props[key], childPath, key, ctx, initial ? initial[key] : undefined, needed.has(key), sibling);
    children.push([key, child]);
    if (child.el) box.append(child.el);
  }
  if (name && spec.description) box.append(h('div', { class: 'hint', style: 'margin: -6px 0 12px' }, spec.description));
  return {
    el: box,
    value: () => {
      const out = {};
      let set = false;
      for (const [key, child] of children) {
        const v = child.value();
        if (v === undefined) continue;
        out[key] = v;
        if (!('const' in resolve(props[key], ctx))) set = true;
      }
      return set || required ? out : undefined;
    },
  };
}

function arrayControl(spec, path, name, ctx, initial, required) {
  const items = resolve(spec.items, ctx);
  const list = h('div');
  const entries = [];
  const max = spec.maxItems ?? Infinity;
  const add = h('button', { type: 'button', class: 'small', onclick: () => { addItem(undefined); changed(); } }, `Add ${singular(name)}`);
  const box = h('div', { class: 'field', dataset: { field: name } }, h('div', { class: 'field-label' }, name, required ? h('span', { class: 'req' }, '*') : null,
    h('span', { class: 'muted small', style: 'font-weight: 400' }, spec.minItems || spec.maxItems ? `(${spec.minItems || 0} to ${spec.maxItems ?? 'any'})` : '')), list, add, hint(spec, name, ctx));
  function changed() {
    add.disabled = entries.length >= max;
    box.dispatchEvent(new Event('input', { bubbles: true }));
  }
  function addItem(value) {
    const child = control(items, `${path}[]`, `${singular(name)} ${entries.length + 1}`, ctx, value, true);
    const entry = { child };
    const remove = h('button', { type: 'button', class: 'ghost small remove', 'aria-label': 'Remove', onclick: () => {
      entries.splice(entries.indexOf(entry), 1);
      wrapper.remove();
      changed();
    } }, '✕');
    const wrapper = h('div', { class: 'list-item' }, remove, child.el);
    entries.push(entry);
    list.append(wrapper);
  }
  for (const value of Array.isArray(initial) ? initial : []) addItem(value);
  if (!entries.length && required) for (let i = 0; i < (spec.minItems || 1); i++) addItem(undefined);
  add.disabled = entries.length >= max;
  return {
    el: box,
    value: () => {
      const values = entries.map((e) => e.child.value()).filter((v) => v !== undefined);
      return values.length || required ? values : undefined;
    },
  };
}

function singular(name) {
  return name.replace(/ \d+$/, '').replace(/ies$/, 'y').replace(/s$/, '');
}

function describeVariant(node, path, ctx) {
  const spec = resolve(node, ctx);
  const kind = mediaKind(path, ctx);
  if (spec.type === 'string') return spec.enum ? `One of ${spec.enum.join(', ')}` : kind ? `One ${kind === 'any' ? 'file' : kind}` : 'Text';
  if (spec.type === 'array') {
    const items = resolve(spec.items || {}, ctx);
    return items.properties ? `List of {${Object.keys(items.properties).join(', ')}}` : `List of ${describeVariant(items, `${path}[]`, ctx)}`;
  }
  const type = spec.properties && spec.properties.type && resolve(spec.properties.type, ctx).const;
  if (type) return type[0].toUpperCase() + type.slice(1);
  return spec.title || spec.type || 'value';
}

function variantControl(node, choices, path, name, ctx, initial, required) {
  const picker = h('select', { 'aria-label': `${name}: kind`, dataset: { variant: name } });
  if (!required) picker.append(h('option', { value: '' }, 'Not set'));
  choices.forEach((c, i) => picker.append(h('option', { value: String(i) }, describeVariant(c, path, ctx))));
  const holder = h('div');
  let current = null;
  const chosen = initial === undefined ? (required ? 0 : -1) : pickVariant(choices, initial, ctx);
  function show(index, value) {
    if (index < 0) { clear(holder); current = null; return; }
    const spec = { ...resolve(choices[index], ctx) };
    if (node.description && !spec.description) spec.description = node.description;
    current = control(spec, path, name, ctx, value, true);
    if (current.el) current.el.classList.add('bare');
    clear(holder, current.el || h('div', { class: 'hint' }, 'Fixed value'));
  }
  picker.value = chosen < 0 ? '' : String(chosen);
  show(chosen, initial);
  picker.addEventListener('change', () => show(picker.value === '' ? -1 : Number(picker.value), undefined));
  const box = h('div', { class: 'field', dataset: { field: name } },
    h('div', { class: 'field-label' }, name, required ? h('span', { class: 'req' }, '*') : null, h('span', { style: 'font-weight: 400; margin-left: auto' }, picker)), holder);
  return { el: box, value: () => (current ? current.value() : undefined) };
}

function pickVariant(choices, value, ctx) {
  const index = choices.findIndex((c) => {
    const spec = resolve(c, ctx);
    if (Array.isArray(value)) return spec.type === 'array';
    if (value && typeof value === 'object') {
      const type = spec.properties && spec.properties.type && resolve(spec.properties.type, ctx).const;
      return spec.type === 'object' && (!type || type === value.type);
    }
    return spec.type === typeof value || (spec.type === 'integer' && typeof value === 'number');
  });
  return Math.max(0, index);
}
