// algolia_client.js: the stock npm `algoliasearch` client (v5 liteClient) and InstantSearch.js
// (headless: its connectors, the request builder and result parser of algoliasearch-helper, no
// DOM) against souk-server's Algolia protocol (docs/algolia.md), compared with /v1/search.
// Run by tests/test_algolia_client.c:
//   node tests/algolia_client.js PORT SEARCH_KEY ALGOLIA_JS_DIR
// ALGOLIA_JS_DIR holds node_modules/{algoliasearch,@algolia/...,instantsearch.js}
// (scripts/test-data.sh). Prints one line per failure and exits 1 when any failed.
'use strict';
const { createRequire } = require('module');
const [port, key, jsdir] = process.argv.slice(2);
const req = createRequire(jsdir + '/node_modules/');
const { liteClient } = req('algoliasearch/lite');
const instantsearch = req('instantsearch.js/dist/instantsearch.development.js');

const base = `http://127.0.0.1:${port}`;
const client = liteClient('souk', key, {
  hosts: [{ url: `127.0.0.1:${port}`, protocol: 'http', accept: 'readWrite' }],
});
let failures = 0, compared = 0;
function fail(what, a, b) {
  failures++;
  console.log(`FAIL ${what}\n  algolia: ${JSON.stringify(a).slice(0, 300)}\n  native:  ${JSON.stringify(b).slice(0, 300)}`);
}

// A seeded generator, so a failure can be replayed.
let seed = 12345;
function rnd(n) {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
}
function pick(a) { return a[rnd(a.length)]; }

async function native(params) {
  const r = await fetch(`${base}/v1/search?${new URLSearchParams(params)}`, { headers: { 'X-Api-Key': key } });
  if (r.status !== 200) throw new Error(`/v1/search ${r.status} ${await r.text()}`);
  return r.json();
}

// The Souk filter of Algolia facet and numeric filters (docs/algolia.md's mapping).
function q(v) { return '"' + v.replace(/["\\]/g, '\\$&') + '"'; }
function nativeFilter(p) {
  const parts = [];
  for (const f of p.facetFilters || []) {
    const ors = (Array.isArray(f) ? f : [f]).map((s) => {
      const i = s.indexOf(':');
      const v = s.slice(i + 1);
      return v.startsWith('-') ? `NOT ${s.slice(0, i)} = ${q(v.slice(1))}` : `${s.slice(0, i)} = ${q(v)}`;
    });
    parts.push(ors.length > 1 ? `(${ors.join(' OR ')})` : ors[0]);
  }
  for (const f of p.numericFilters || []) {
    const m = /^([a-z_]+)(<=|>=|<|>|=)(.*)$/.exec(f);
    parts.push(`${m[1]} ${m[2]} ${m[3]}`);
  }
  return parts.join(' AND ');
}

function nativeParams(p, facets) {
  const n = { operator: 'and', prefix: 'true', typo: p.typoTolerance === false ? 'false' : 'true' };
  if (p.query) n.q = p.query;
  const hpp = p.hitsPerPage === undefined ? 20 : p.hitsPerPage;
  n.per_page = String(Math.max(hpp, 1));
  n.page = String((p.page || 0) + 1);
  const f = nativeFilter(p);
  if (f) n.filter = f;
  if (facets && facets.length) {
    n.facets = facets.join(',');
    n.facet_size = String(p.maxValuesPerFacet || 100);
  }
  if (p.sort) n.sort = p.sort;
  return n;
}

function sameHits(what, a, n, withHits) {
  compared++;
  if (a.nbHits !== n.total) return fail(`${what} nbHits`, a.nbHits, n.total);
  if (!withHits) return;
  const x = a.hits.map((h) => h.objectID).join(' ');
  const y = n.hits.map((h) => h.id).join(' ');
  if (x !== y) fail(`${what} hits`, x, y);
}

function sameFacet(what, alg, nat) {
  const want = {};
  for (const v of (nat && nat.values) || []) want[v.value] = v.count;
  const got = alg || {};
  if (JSON.stringify(Object.keys(got).sort().map((k) => [k, got[k]])) !==
      JSON.stringify(Object.keys(want).sort().map((k) => [k, want[k]])))
    fail(`${what} facet`, got, want);
}

// 1. Generated multi-queries straight through the client.
async function generated(n) {
  const top = await native({ facets: 'section,tags', facet_size: '30', per_page: '1' });
  const sections = top.facets.section.values.map((v) => v.value);
  const tags = top.facets.tags.values.map((v) => v.value);
  const words = ['editor', 'library', 'python', 'game', 'data', 'server', 'text', 'audio', 'image',
    'network', 'lib', 'tool', 'perl', 'font', 'gnome', 'kde', 'doc', 'dev', 'ruby', ''];
  const all = [];
  for (let i = 0; i < n; i++) {
    const p = { indexName: 'debian', query: pick(words), hitsPerPage: 1 + rnd(20), page: rnd(3) };
    if (rnd(2)) p.typoTolerance = rnd(2) === 1;
    const ff = [];
    if (rnd(3) === 0) ff.push(rnd(2) ? [pick(sections), pick(sections)].map((s) => 'section:' + s) : 'section:' + pick(sections));
    if (rnd(4) === 0) ff.push('tags:' + (rnd(3) ? '' : '-') + pick(tags));
    if (ff.length) p.facetFilters = ff;
    if (rnd(3) === 0) p.numericFilters = [`installed_size_kb>=${rnd(200)}`, `installed_size_kb<${200 + rnd(5000)}`];
    if (rnd(2)) { p.facets = ['section', 'tags']; p.maxValuesPerFacet = 5 + rnd(10); }
    all.push(p);
  }
  for (let i = 0; i < all.length; i += 10) {
    const batch = all.slice(i, i + 10);
    const { results } = await client.search({ requests: batch });
    for (let k = 0; k < batch.length; k++) {
      const p = batch[k], a = results[k];
      const filtered = new Set((p.facetFilters || []).flat().map((s) => s.slice(0, s.indexOf(':'))));
      const facets = (p.facets || []).filter((f) => !filtered.has(f));
      const nat = await native(nativeParams(p, facets));
      sameHits(`query ${JSON.stringify(p)}`, a, nat, true);
      for (const f of facets) sameFacet(`query ${JSON.stringify(p)} ${f}`, a.facets[f], nat.facets[f]);
    }
  }
  // Facet-value search through the client.
  const { results } = await client.search({ requests: [{ indexName: 'debian', type: 'facet', facet: 'section', facetQuery: 'li', query: 'data' }] });
  const nat = await native({ q: 'data', operator: 'and', prefix: 'true', typo: 'true', facets: 'section', facet_size: '1000' });
  const counts = Object.fromEntries(nat.facets.section.values.map((v) => [v.value, v.count]));
  compared++;
  for (const h of results[0].facetHits)
    if (!h.value.toLowerCase().startsWith('li') || counts[h.value] !== h.count) fail('facet search', h, counts[h.value]);
  if (!results[0].facetHits.length) fail('facet search empty', results[0], counts);
}

// 2. InstantSearch itself, headless: every step's hits, count and refinement-list counts equal
// /v1/search's (whose facets are disjunctive, as InstantSearch shows them).
async function session() {
  const noop = () => {};
  const c = instantsearch.connectors;
  const search = instantsearch({
    indexName: 'debian', searchClient: client, future: { preserveSharedStateOnUnmount: true },
  });
  search.addWidgets([
    c.connectSearchBox(noop)({}),
    c.connectRefinementList(noop)({ attribute: 'section', operator: 'or', limit: 10 }),
    c.connectRefinementList(noop)({ attribute: 'tags', operator: 'or', limit: 10 }),
    c.connectRange(noop)({ attribute: 'installed_size_kb' }),
    c.connectHits(noop)({}),
    c.connectStats(noop)({}),
    c.connectPagination(noop)({}),
    c.connectSortBy(noop)({ items: [{ label: 'relevance', value: 'debian' }, { label: 'size', value: 'debian_size_asc' }] }),
  ]);
  let errors = 0, marked = 0;
  search.on('error', (e) => { errors++; fail('instantsearch error', e.error && e.error.message, null); });
  // A step is settled when no render came for 400 ms after the last one (a range widget
  // refines again once it has the bounds, so one change can take two searches).
  let renders = 0;
  search.on('render', () => { renders++; });
  const settle = async () => {
    let seen = -1;
    for (let i = 0; i < 40 && seen !== renders; i++) {
      seen = renders;
      await new Promise((r) => setTimeout(r, 400));
    }
  };
  search.start();
  await settle();
  const steps = [
    { index: 'debian', ui: { query: 'libary' } },
    { index: 'debian', ui: { query: 'libary', refinementList: { section: ['libs', 'devel'] } } },
    { index: 'debian', ui: { query: 'libary', refinementList: { section: ['libs', 'devel'], tags: ['role::shared-lib'] } } },
    { index: 'debian', ui: { query: 'libary', refinementList: { section: ['libs', 'devel'] }, range: { installed_size_kb: '50:5000' } } },
    { index: 'debian_size_asc', sort: 'installed_size_kb:asc', ui: { query: 'libary', refinementList: { section: ['libs', 'devel'] }, range: { installed_size_kb: '50:5000' } } },
    { index: 'debian_size_asc', sort: 'installed_size_kb:asc', ui: { query: 'libary', refinementList: { section: ['libs', 'devel'] }, range: { installed_size_kb: '50:5000' }, page: 3 } },
  ];
  for (const st of steps) {
    const ui = { ...st.ui };
    if (st.index !== 'debian') ui.sortBy = st.index;
    search.setUiState({ debian: ui });
    await settle();
    const rs = search.renderState.debian;
    const f = { section: ui.refinementList && ui.refinementList.section, tags: ui.refinementList && ui.refinementList.tags };
    const parts = [];
    for (const a of ['section', 'tags'])
      if (f[a]) parts.push(f[a].length > 1 ? `${a} IN [${f[a].map(q).join(', ')}]` : `${a} = ${q(f[a][0])}`);
    if (ui.range) { const [lo, hi] = ui.range.installed_size_kb.split(':'); parts.push(`installed_size_kb >= ${lo} AND installed_size_kb <= ${hi}`); }
    const n = { q: ui.query, operator: 'and', prefix: 'true', typo: 'true', per_page: '20', page: String(ui.page || 1), facets: 'section,tags', facet_size: '10' };
    if (parts.length) n.filter = parts.join(' AND ');
    if (st.sort) n.sort = st.sort;
    const nat = await native(n);
    const what = `instantsearch step ${JSON.stringify(st.ui)}`;
    compared++;
    if (rs.stats.nbHits !== nat.total) fail(`${what} nbHits`, rs.stats.nbHits, nat.total);
    const x = rs.hits.hits.map((h) => h.objectID).join(' '), y = nat.hits.map((h) => h.id).join(' ');
    if (x !== y) fail(`${what} hits`, x, y);
    if (!x && nat.total > 0) fail(`${what} no hits`, x, y);
    for (const a of ['section', 'tags']) {
      const got = {};
      for (const it of rs.refinementList[a].items) got[it.value] = it.count;
      const want = {};
      for (const v of nat.facets[a].values) want[v.value] = v.count;
      // InstantSearch shows refined values even below the limit; compare the native top values.
      for (const k of Object.keys(want)) if (got[k] !== want[k]) { fail(`${what} ${a} counts`, got, want); break; }
    }
    // Highlighting reached InstantSearch: matched words marked with its tags (which it turns
    // into <mark> as it escapes the hits).
    if (rs.hits.hits.some((h) => /<mark|__ais-highlight__/.test(JSON.stringify(h._highlightResult)))) marked++;
  }
  search.dispose();
  compared++;
  if (!marked) fail('instantsearch: no hit highlighted in any step', marked, steps.length);
  if (errors) fail('instantsearch errors', errors, 0);
}

(async () => {
  try {
    await generated(300);
    await session();
  } catch (e) {
    failures++;
    console.log('FAIL exception', e && e.stack);
  }
  console.log(`algolia_client: ${compared} comparisons, ${failures} failures`);
  process.exit(failures ? 1 : 0);
})();
