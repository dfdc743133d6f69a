// Usage & credits: balance, the tier's limits per model and credits used per day and model.
import { api } from './api.js';
import { h, number, emptyState } from './ui.js';

const COLORS = ['#6366f1', '#06b6d4', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#ec4899', '#84cc16', '#0ea5e9', '#f97316', '#14b8a6', '#a855f7'];
const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function dayLabel(iso) {
  return new Date(`${iso}T00:00:00Z`).toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
}

export function chart(report) {
  const days = report.results;
  const models = report.models;
  if (!days.some((d) => d.usedCredits.some((u) => u.amount))) return emptyState('No credits used in this period', ' Generations show here by day and model.');
  const color = Object.fromEntries(models.map((m, i) => [m, COLORS[i % COLORS.length]]));
  const totals = days.map((d) => d.usedCredits.reduce((s, u) => s + Math.max(0, u.amount), 0));
  const top = Math.max(1, ...totals);
  const W = 900, H = 260, left = 48, bottom = 28, plotH = H - bottom - 10, plotW = W - left - 8;
  const step = plotW / days.length;
  const bar = Math.max(2, Math.min(28, step * 0.7));
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': 'Credits used per day and model', id: 'usage-chart' });
  for (let i = 0; i <= 4; i++) {
    const y = 10 + plotH - (plotH * i) / 4;
    root.append(svg('line', { x1: left, x2: W - 8, y1: y, y2: y, stroke: '#eef0f4' }),
      svg('text', { x: left - 8, y: y + 4, 'text-anchor': 'end' }, number(Math.round((top * i) / 4))));
  }
  days.forEach((day, i) => {
    const x = left + i * step + (step - bar) / 2;
    let y = 10 + plotH;
    for (const used of day.usedCredits) {
      if (used.amount <= 0) continue;
      const height = (plotH * used.amount) / top;
      y -= height;
      root.append(svg('rect', { x, y, width: bar, height: Math.max(1, height), rx: 2, fill: color[used.model] },
        svg('title', {}, `${dayLabel(day.date)} · ${used.model}: ${number(used.amount)} credits`)));
    }
    const every = Math.ceil(days.length / 10);
    if (i % every === 0) root.append(svg('text', { x: left + i * step + step / 2, y: H - 8, 'text-anchor': 'middle' }, dayLabel(day.date)));
  });
  const legend = h('div', { class: 'legend' }, models.map((m) => h('span', { style: `--c: ${color[m]}` }, m)));
  return h('div', {}, root, legend);
}

export async function render(root, ctx) {
  const days = 30;
  const start = new Date(Date.now() - (days - 1) * 86400000).toISOString().slice(0, 10);
  const [org, report] = await Promise.all([ctx.refreshOrganization(), api('/v1/organization/usage', { method: 'POST', body: { startDate: start } })]);
  const spent = report.results.reduce((s, d) => s + d.usedCredits.reduce((t, u) => t + u.amount, 0), 0);
  const limit = org.tier.maxMonthlyCreditSpend;
  const today = Object.values(org.usage.models).reduce((s, m) => s + m.dailyGenerations, 0);
  const used = org.usage.models;
  const rows = Object.entries(org.tier.models).map(([model, limits]) => h('tr', {},
    h('td', {}, model),
    h('td', {}, limits.maxConcurrentGenerations === null ? 'no limit' : number(limits.maxConcurrentGenerations)),
    h('td', {}, used[model] ? number(used[model].dailyGenerations) : '0', h('span', { class: 'muted' }, ` / ${limits.maxDailyGenerations === null ? '∞' : number(limits.maxDailyGenerations)}`))));
  root.append(
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Usage & credits'), h('p', {}, 'Your balance, what your tier allows, and where the credits went.'))),
    h('div', { class: 'grid3' },
      h('div', { class: 'card pad stat' }, h('div', { class: 'label' }, 'Credit balance'), h('div', { class: 'value', id: 'usage-balance' }, number(org.creditBalance)), h('div', { class: 'sub' }, 'Ask your operator for more')),
      h('div', { class: 'card pad stat' }, h('div', { class: 'label' }, `Used in the last ${days} days`), h('div', { class: 'value' }, number(spent)),
        h('div', { class: 'sub' }, `of ${number(limit)} monthly spend allowed`), h('div', { class: 'meter' }, h('div', { style: `width: ${Math.min(100, (100 * spent) / Math.max(1, limit))}%` }))),
      h('div', { class: 'card pad stat' }, h('div', { class: 'label' }, 'Generations, last 24 h'), h('div', { class: 'value' }, number(today)), h('div', { class: 'sub' }, 'Across all models'))),
    h('div', { class: 'card pad', style: 'margin-top: 16px' }, h('h2', {}, 'Credits per day, by model'), chart(report)),
    h('div', { class: 'card', style: 'margin-top: 16px' }, h('div', { class: 'filters' }, h('h2', { style: 'margin: 0' }, 'Tier limits per model')),
      h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Model'), h('th', {}, 'Concurrent generations'), h('th', {}, 'Generations, last 24 h / daily limit'))), h('tbody', {}, rows))));
}
