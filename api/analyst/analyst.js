/* analyst.js: the analyst page of souk-server (docs/analyst.md). Plain JavaScript, no build
 * step. Every call goes to this server's own API with the admin key the analyst typed, held in
 * this tab's sessionStorage only; the page itself holds no data. */
'use strict';

const $ = (id) => document.getElementById(id);
const KEY = 'souk-admin-key';

function showError(msg) {
  const e = $('error');
  e.textContent = msg || '';
  e.hidden = !msg;
}

/* One API call: JSON in, JSON out; an error body's code and message become the thrown Error. */
async function api(method, path, body) {
  const headers = { 'X-Api-Key': sessionStorage.getItem(KEY) || '' };
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const text = await r.text();
  let j = null;
  try {
    j = text ? JSON.parse(text) : null;
  } catch (e) {
    throw new Error(`${method} ${path}: ${r.status}, not JSON`);
  }
  if (!r.ok) {
    const err = j && j.error ? j.error : {};
    const field = err.field ? ` (${err.field})` : '';
    const e = new Error(`${err.code || r.status}: ${err.message || 'request failed'}${field}`);
    e.status = r.status;
    e.body = j;
    throw e;
  }
  return j;
}

/* Runs f, showing its error on the page. */
async function guarded(f) {
  showError('');
  try {
    return await f();
  } catch (e) {
    showError(e.message);
    return undefined;
  }
}

function el(tag, attrs, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') n.className = v;
    else if (k.startsWith('data-')) n.setAttribute(k, v);
    else n[k] = v;
  }
  for (const k of kids) n.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return n;
}

function fmt(x) {
  if (Array.isArray(x)) return x.join(', ');
  if (x === null || x === undefined) return '';
  if (typeof x !== 'number') return String(x);
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(4);
}

/* ---------------------------------------------------------------- tabs and key */

for (const b of document.querySelectorAll('nav button')) {
  b.addEventListener('click', () => {
    for (const o of document.querySelectorAll('nav button')) o.classList.toggle('on', o === b);
    for (const s of document.querySelectorAll('main section'))
      s.hidden = s.id !== `tab-${b.dataset.tab}`;
  });
}

$('keyform').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY, $('key').value);
  $('key').value = '';
  await guarded(async () => {
    await loadProfileNames();
    $('keystate').textContent = 'key accepted';
  });
});

/* ---------------------------------------------------------------- profiles */

let profileNames = [];

async function loadProfileNames() {
  const j = await api('GET', '/v1/profiles');
  profileNames = (j.profiles || []).map((p) => p.name);
  const dl = $('profilenames');
  dl.replaceChildren(...profileNames.map((n) => el('option', { value: n })));
}

/* ---------------------------------------------------------------- explain */

/* An explanation as indented text: a component's name, its score, its details, its parts. */
function explainText(node, depth) {
  const pad = '  '.repeat(depth);
  if (Array.isArray(node)) return node.map((n) => explainText(n, depth)).join('');
  if (node === null || typeof node !== 'object') return `${pad}${fmt(node)}\n`;
  const kids = node.children || node.parts || null;
  const name =
    node.name || node.term || node.kind || node.boost || node.personal || node.curation || '';
  const score = node.score !== undefined ? node.score : node.value;
  const details = Object.entries(node)
    .filter(([k, v]) => !['children', 'parts', 'name', 'score'].includes(k) && typeof v !== 'object')
    .map(([k, v]) => `${k}=${fmt(v)}`)
    .join(' ');
  let s = `${pad}${name}${score !== undefined ? ` = ${fmt(score)}` : ''}  ${details}\n`;
  if (kids) s += explainText(kids, depth + 1);
  return s;
}

/* ---------------------------------------------------------------- compare */

/* Runs one search for a side: the query, filter and size, under profile p (empty: none). */
async function searchSide(q, filter, n, profile, extra) {
  const body = Object.assign({ q, per_page: n, explain: true }, extra || {});
  if (filter) body.filter = filter;
  if (profile) body.profile = profile;
  return api('POST', '/v1/search', body);
}

/* Fills list ol with res's hits; other (the other side's ids, in order) marks each move. */
function renderHits(ol, res, other) {
  const pos = new Map(other.map((id, i) => [id, i]));
  ol.replaceChildren(
    ...res.hits.map((h, i) => {
      const li = el('li', { 'data-id': h.id });
      li.append(el('span', { class: 'id' }, h.id));
      if (h.fields && h.fields.title) li.append(' ', String(h.fields.title).slice(0, 80));
      if (h.curated) li.append(el('span', { class: 'curated' }, h.curated));
      if (!pos.has(h.id)) li.append(el('span', { class: 'move new', 'data-move': 'new' }, 'new'));
      else if (pos.get(h.id) > i)
        li.append(el('span', { class: 'move up', 'data-move': 'up' }, `▲${pos.get(h.id) - i}`));
      else if (pos.get(h.id) < i)
        li.append(el('span', { class: 'move down', 'data-move': 'down' }, `▼${i - pos.get(h.id)}`));
      li.append(el('span', { class: 'score' }, fmt(h.score)));
      li.addEventListener('click', (ev) => {
        if (ev.target.closest('.explain')) return;
        const open = li.querySelector('.explain');
        if (open) open.remove();
        else li.append(el('div', { class: 'explain' }, explainText(h.explain || [], 0)));
      });
      return li;
    }),
  );
}

function sideLabel(p) {
  return p ? `profile ${p}` : 'default ranking';
}

async function compare(q, filter, n, left, right, leftExtra, rightExtra, targets) {
  const [a, b] = await Promise.all([
    searchSide(q, filter, n, left, leftExtra),
    searchSide(q, filter, n, right, rightExtra),
  ]);
  const ids = (r) => r.hits.map((h) => h.id);
  renderHits(targets[0], a, ids(b));
  renderHits(targets[1], b, ids(a));
  return [a, b];
}

$('compareform').addEventListener('submit', (ev) => {
  ev.preventDefault();
  guarded(async () => {
    const left = $('cleft').value.trim(), right = $('cright').value.trim();
    const [a, b] = await compare($('cq').value, $('cfilter').value.trim(),
                                 Number($('cn').value) || 10, left, right, null, null,
                                 [$('lefthits'), $('righthits')]);
    $('lefttitle').textContent = sideLabel(left);
    $('righttitle').textContent = sideLabel(right);
    $('leftmeta').textContent = `${a.total} matches, ${a.took_us} µs`;
    $('rightmeta').textContent = `${b.total} matches, ${b.took_us} µs`;
  });
});

/* ---------------------------------------------------------------- profile editor */

async function loadVersions(name) {
  const j = await api('GET', `/v1/profiles/${encodeURIComponent(name)}/versions`);
  const vs = j.versions || [];
  $('pversions').replaceChildren(
    ...vs.map((v) => el('option', { value: v.version }, `version ${v.version}`)));
}

function showDoc(j) {
  $('pdoc').value = JSON.stringify(j.profile !== undefined ? j.profile : j, null, 2);
  $('pstate').textContent = j.version !== undefined ? `version ${j.version}` : '';
}

$('pload').addEventListener('click', () =>
  guarded(async () => {
    const name = $('pname').value.trim();
    showDoc(await api('GET', `/v1/profiles/${encodeURIComponent(name)}`));
    await loadVersions(name);
  }));

$('ploadversion').addEventListener('click', () =>
  guarded(async () => {
    const name = $('pname').value.trim();
    const v = $('pversions').value;
    showDoc(await api('GET', `/v1/profiles/${encodeURIComponent(name)}/versions/${v}`));
  }));

function editedDoc() {
  try {
    return JSON.parse($('pdoc').value);
  } catch (e) {
    throw new Error(`the profile is not valid JSON: ${e.message}`);
  }
}

$('ppreview').addEventListener('click', () =>
  guarded(async () => {
    const name = $('pname').value.trim();
    await compare($('pq').value, '', 10, name, '', null, { profile_draft: editedDoc() },
                  [$('pcurrent'), $('pedited')]);
  }));

$('psave').addEventListener('click', () =>
  guarded(async () => {
    const name = $('pname').value.trim();
    const j = await api('PUT', `/v1/profiles/${encodeURIComponent(name)}`, editedDoc());
    $('pstate').textContent = `saved: version ${j.version}`;
    await loadVersions(name);
    await loadProfileNames();
  }));

/* ---------------------------------------------------------------- evaluation */

function parseJudged(text) {
  return text
    .split('\n')
    .map((l, i) => [l.trim(), i + 1])
    .filter(([l]) => l)
    .map(([l, line]) => {
      try {
        return JSON.parse(l);
      } catch (e) {
        throw new Error(`judged queries, line ${line}: ${e.message}`);
      }
    });
}

function table(t, head, rows) {
  t.replaceChildren(
    el('tr', {}, ...head.map((h) => el('th', {}, h))),
    ...rows.map((r) =>
      el('tr', {}, ...r.map((c) => el('td', typeof c === 'number' ? { class: 'num' } : {}, fmt(c))))),
  );
}

/* A bar a query: its delta, green above the axis, red below. */
function chart(svg, deltas) {
  const W = Number(svg.getAttribute('width')), H = Number(svg.getAttribute('height'));
  const max = Math.max(1e-9, ...deltas.map((d) => Math.abs(d.delta)));
  const bw = Math.max(2, Math.min(24, (W - 20) / Math.max(1, deltas.length)));
  const ns = 'http://www.w3.org/2000/svg';
  svg.replaceChildren();
  const axis = document.createElementNS(ns, 'line');
  Object.entries({ x1: 0, x2: W, y1: H / 2, y2: H / 2, stroke: '#888' })
    .forEach(([k, v]) => axis.setAttribute(k, v));
  svg.append(axis);
  deltas.forEach((d, i) => {
    const h = (Math.abs(d.delta) / max) * (H / 2 - 10);
    const r = document.createElementNS(ns, 'rect');
    r.setAttribute('x', 10 + i * bw);
    r.setAttribute('width', Math.max(1, bw - 1));
    r.setAttribute('y', d.delta >= 0 ? H / 2 - h : H / 2);
    r.setAttribute('height', Math.max(1, h));
    r.setAttribute('class', d.delta >= 0 ? 'pos' : 'neg');
    const tip = document.createElementNS(ns, 'title');
    tip.textContent = `${d.query}: ${d.delta.toFixed(4)}`;
    r.append(tip);
    svg.append(r);
  });
}

$('erun').addEventListener('click', () =>
  guarded(async () => {
    const queries = parseJudged($('ejudged').value);
    /* "default" (or an empty entry) is the default ranking: null in the request. */
    const profiles = $('eprofiles').value.split(',').map((s) => s.trim())
      .map((s) => (s === '' || s === 'default' ? null : s));
    const k = Number($('ek').value) || 10;
    $('estate').textContent = 'running…';
    const j = await api('POST', '/v1/rank-eval', { queries, profiles, k });
    $('estate').textContent = `${j.queries} judged queries counted, ${j.took_us} µs`;
    const name = (p) => (p === null || p === undefined ? 'default' : p);
    table($('emetrics'), ['profile', 'MAP', `nDCG@${k}`, `P@${k}`, `Recall@${k}`, 'MRR'],
          j.profiles.map((p) => [name(p.profile), p.map, p.ndcg, p.precision, p.recall, p.mrr]));
    const text = new Map(queries.map((q, i) => [q.id || String(i + 1), q.query]));
    const deltas = j.deltas
      ? j.deltas.queries.map((d) => ({ query: text.get(d.id) || d.id, id: d.id, delta: d.ndcg,
                                        ap: d.ap }))
      : [];
    chart($('echart'), deltas);
    table($('edeltas'), ['id', 'query', `Δ nDCG@${k}`, 'Δ AP'],
          deltas.map((d) => [d.id, d.query, d.delta, d.ap]));
  }));

/* ---------------------------------------------------------------- analytics */

$('analyticsform').addEventListener('submit', (ev) => {
  ev.preventDefault();
  guarded(async () => {
    const p = new URLSearchParams({ kind: $('akind').value });
    if ($('afrom').value) p.set('from', $('afrom').value);
    if ($('ato').value) p.set('to', $('ato').value);
    if ($('ak').value) p.set('k', $('ak').value);
    const j = await api('GET', `/v1/analytics/queries?${p}`);
    $('ameta').textContent =
      `${j.from} to ${j.to}, k = ${j.k}, thresholded: ${j.thresholded}, ` +
      `${j.suppressed_rows} rows below k left out`;
    const rows = j.rows || [];
    const simple = (v) => Array.isArray(v) || v === null || typeof v !== 'object';
    const cols = rows.length ? Object.keys(rows[0]).filter((c) => simple(rows[0][c]))
                             : ['query', 'users'];
    table($('atable'), cols, rows.map((r) => cols.map((c) => r[c])));
  });
});

/* A key kept from earlier in this tab, or a server without keys (development mode): ready
 * without asking. A refusal here is silent; the key form is there for it. */
loadProfileNames().then(
  () => ($('keystate').textContent = sessionStorage.getItem(KEY) ? 'key accepted' : 'ready'),
  () => {});
