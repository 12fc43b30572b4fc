// storefront_page.js: drives the InstantSearch storefront (examples/storefront/) in Debian's
// chromium, headless, through playwright-core, against a running souk-server. Run by
// tests/test_storefront_page.c:
//   node storefront_page.js PORT SEARCH_KEY USER_TOKEN SCREENSHOT_DIR
// with PLAYWRIGHT_CORE (the package folder) and CHROMIUM (the browser binary) in the environment.
// At each step (a query with a typo, a category, two sections, one maintainer, a size range, a
// sort, page 3)
// the hits, the result count and every facet count the page shows must equal what /v1/search
// answers for the same request. Then a hit clicked by a consenting shopper must reach the user's
// history through POST /1/events, and after an opt-out a click must leave nothing stored.
// Prints "ok N checks" and exits 0, or prints each failure and exits 1.
'use strict';
const http = require('http');
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const [port, key, token, shots] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
let checks = 0, failures = 0;
function check(ok, what) {
  checks++;
  if (!ok) {
    failures++;
    console.log(`FAIL: ${what}`);
  }
}

// One API call from node, beside the browser: the truth the page is compared with.
function api(method, path, body, headers) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? null : JSON.stringify(body);
    const req = http.request(`${base}${path}`, {
      method,
      headers: Object.assign({ 'X-Api-Key': key }, headers || {},
                             data ? { 'Content-Type': 'application/json' } : {}),
    }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, json: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

// The state the storefront is in, as /v1/search parameters. The storefront's searches are
// Algolia's defaults: typo tolerance, the last word as a prefix, all words required, 20 hits a
// page; its refinement lists and menu count disjunctively, as /v1/search's facets do.
let lastQuery = '';
const state = { q: '', category: null, sections: [], maintainers: [], range: null, sort: null,
                page: 1 };
function quote(v) {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
function searchPath() {
  const parts = [];
  if (state.category) parts.push(`tag_facets = ${quote(state.category)}`);
  if (state.sections.length) parts.push(`section IN [${state.sections.map(quote).join(', ')}]`);
  if (state.maintainers.length)
    parts.push(`maintainer IN [${state.maintainers.map(quote).join(', ')}]`);
  if (state.range)
    parts.push(`installed_size_kb >= ${state.range[0]} AND installed_size_kb <= ${state.range[1]}`);
  const p = new URLSearchParams({ q: state.q, typo: 'true', prefix: 'true', operator: 'and',
                                  per_page: '20', page: String(state.page),
                                  facets: 'section,maintainer,tag_facets,tags',
                                  facet_size: '1000' });
  if (parts.length) p.set('filter', parts.join(' AND '));
  if (state.sort) p.set('sort', state.sort);
  return `/v1/search?${p}`;
}

// What the page shows.
async function shown(page) {
  return page.evaluate(() => {
    const num = (s) => Number(String(s).replace(/[^0-9]/g, ''));
    const list = (sel, label, count) =>
      Array.from(document.querySelectorAll(sel)).map((li) => ({
        value: li.querySelector(label).textContent.trim(),
        count: num(li.querySelector(count).textContent),
      }));
    return {
      ids: Array.from(document.querySelectorAll('#hits .hit')).map((h) => h.dataset.id),
      marks: document.querySelectorAll('#hits .hit-title mark').length,
      total: num((document.querySelector('#stats .ais-Stats-text') || { textContent: '' })
                   .textContent.split(' ')[0]),
      section: list('#section .ais-RefinementList-item', '.ais-RefinementList-labelText',
                    '.ais-RefinementList-count'),
      maintainer: list('#maintainer .ais-RefinementList-item', '.ais-RefinementList-labelText',
                       '.ais-RefinementList-count'),
      category: list('#categories .ais-HierarchicalMenu > .ais-HierarchicalMenu-list > .ais-HierarchicalMenu-item',
                     '.ais-HierarchicalMenu-label', '.ais-HierarchicalMenu-count'),
      subcategory: list('#categories .ais-HierarchicalMenu-list--child .ais-HierarchicalMenu-item',
                        '.ais-HierarchicalMenu-label', '.ais-HierarchicalMenu-count'),
      empty: !!document.querySelector('#hits .no-results'),
    };
  });
}

// Differences between what the page shows and /v1/search's answer to the same request; [] when
// equal.
function differences(s, res) {
  const d = [];
  const want = res.hits.map((h) => h.id);
  if (JSON.stringify(s.ids) !== JSON.stringify(want))
    d.push(`hits ${JSON.stringify(s.ids)} != ${JSON.stringify(want)}`);
  if (s.total !== res.total) d.push(`count ${s.total} != ${res.total}`);
  for (const f of ['section', 'maintainer', 'category', 'subcategory']) {
    const counts = new Map();
    const field = { category: 'tag_facets', subcategory: 'tags' }[f] || f;
    for (const v of res.facets[field].values) counts.set(v.value, v.count);
    // The menu's second level shows "program" for the value "role::program".
    for (const v of s[f].map((x) => f === 'subcategory' ? { value: `${state.category}::${x.value}`, count: x.count } : x))
      // A refined value stays listed with 0 when nothing else matches; /v1/search omits it.
      if ((counts.get(v.value) || 0) !== v.count)
        d.push(`${f} ${v.value}: ${v.count} shown, /v1/search ${counts.get(v.value)}`);
  }
  return d;
}

// Waits until the page equals /v1/search for the current state (the page renders after its
// request returns), at most 10 s (tries × 200 ms); one check, with the differences when they stay.
async function compare(page, what, tries) {
  const res = await api('GET', searchPath());
  check(res.status === 200, `${what}: /v1/search ${res.status} ${JSON.stringify(res.json)}`);
  let d = ['not compared'], s;
  for (let i = 0; i < (tries || 50) && d.length; i++) {
    s = await shown(page);
    d = res.status === 200 ? differences(s, res.json) : [];
    if (d.length) await page.waitForTimeout(200);
  }
  check(d.length === 0, `${what}: the page differs from ${searchPath()}: ${d.slice(0, 5).join('; ')}` +
                        ` (the page's last request: ${lastQuery})`);
  console.log(`${what}: ${s.total} results, ${s.ids.length} hits shown, ` +
              `${s.section.length + s.maintainer.length + s.category.length + s.subcategory.length} ` +
              'facet counts equal');
  return s;
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => {
    if (r.url().includes('/queries')) lastQuery = (r.postData() || '').slice(0, 1500);
  });
  const events = []; // the answers to POST /1/events
  page.on('response', async (r) => {
    if (r.url().includes('/1/events')) {
      let body = null;
      try { body = JSON.parse(await r.text()); } catch (e) { /* a beacon's answer may be gone */ }
      events.push({ status: r.status(), body });
    }
  });
  // The server's first facet search builds the catalog's attribute columns (seconds on the whole
  // catalog, longer than algoliasearch's 2 s read timeout on a loaded machine): warm it first.
  check((await api('GET', searchPath())).status === 200, 'the warm-up search');
  await page.goto(`${base}/storefront/#key=${encodeURIComponent(key)}&token=${encodeURIComponent(token)}`);
  check((await page.title()) === 'Souk storefront: Debian packages', 'the page loads');
  await compare(page, 'start (browsing)', 150); /* the first search builds the columns */

  // 1. A query with a typo: "libary" finds "library" (typo tolerance, as Algolia's default).
  await page.fill('.ais-SearchBox-input', 'libary');
  state.q = 'libary';
  let s = await compare(page, 'query with a typo');
  check(s.total > 60 && s.marks > 0, `the typo finds results with highlighted titles (${s.total}, ${s.marks} marks)`);

  // 1b. The category menu: its largest first level, which opens its second level.
  check(s.category.length > 0, 'the category menu shows its first level');
  state.category = s.category.slice().sort((a, b) => b.count - a.count)[0].value;
  await page.click(`#categories .ais-HierarchicalMenu > .ais-HierarchicalMenu-list > .ais-HierarchicalMenu-item > div > a:has(.ais-HierarchicalMenu-label:text-is("${state.category}"))`);
  s = await compare(page, `category ${state.category}`);
  check(s.subcategory.length > 0, `the menu opens ${state.category}'s second level`);

  // 2. Two sections (the two largest), then one maintainer.
  state.sections = s.section.slice(0, 2).map((v) => v.value);
  for (const v of state.sections) {
    await page.click(`#section .ais-RefinementList-item:has(.ais-RefinementList-labelText:text-is("${v}")) input`);
    await page.waitForTimeout(150);
  }
  s = await compare(page, `two sections (${state.sections.join(', ')})`);
  check(s.section.length > 2, 'the section list still shows the other sections (disjunctive)');
  state.maintainers = [s.maintainer[0].value];
  await page.click(`#maintainer .ais-RefinementList-item:has(.ais-RefinementList-labelText:text-is(${JSON.stringify(state.maintainers[0])})) input`);
  s = await compare(page, `one maintainer (${state.maintainers[0]})`);

  // 3. A size range (the installed size stands in for a price).
  // Inside the bounds the widget shows (a bound equal to the results' own is no refinement).
  const lo = Number(await page.getAttribute('#size .ais-RangeInput-input--min', 'min'));
  const hi = Number(await page.getAttribute('#size .ais-RangeInput-input--max', 'max'));
  state.range = [lo + 10, Math.max(lo + 20, Math.floor(hi / 4))];
  await page.fill('#size .ais-RangeInput-input--min', String(state.range[0]));
  await page.fill('#size .ais-RangeInput-input--max', String(state.range[1]));
  await page.click('#size .ais-RangeInput-submit');
  s = await compare(page, `size ${state.range[0]} to ${state.range[1]} kB`);

  // 4. Sort by size, smallest first (the replica debian_size_asc).
  await page.selectOption('#sort select', 'debian_size_asc');
  state.sort = 'installed_size_kb:asc';
  s = await compare(page, 'sorted by size');

  // 5. Page 3.
  check(s.total > 40, `enough results for a third page (${s.total})`);
  await page.click('#pagination .ais-Pagination-item--page a:text-is("3")');
  state.page = 3;
  s = await compare(page, 'page 3');
  await page.screenshot({ path: `${shots}/storefront-page3.png`, fullPage: false });

  // 6. A click by a consenting shopper reaches the behaviour store (the user's history).
  const me = { 'X-User-Token': token };
  let r = await api('PUT', '/v1/me/consent', { personalization: true }, me);
  check(r.status === 200, `consent: ${r.status}`);
  const clicked = s.ids[1];
  const before = events.length;
  await page.click(`#hits .hit[data-id="${clicked}"]`);
  let stored = false;
  for (let i = 0; i < 50 && !stored; i++) {
    r = await api('GET', '/v1/me/history', undefined, me);
    stored = r.status === 200 && r.json.items.some((it) => it.type === 'click' && it.item === clicked);
    if (!stored) await page.waitForTimeout(200);
  }
  check(stored, `the click on ${clicked} is in the shopper's history`);
  for (let i = 0; i < 50 && !events.slice(before).some((e) => e.body && e.body.counts); i++)
    await page.waitForTimeout(100);
  const clickAnswers = events.slice(before).filter((e) => e.body && e.body.counts);
  check(clickAnswers.some((e) => e.status === 200 && e.body.counts.stored >= 1),
        `POST /1/events answered stored: ${JSON.stringify(events.slice(before))}`);

  // 7. After an opt-out, a click stores nothing of the shopper.
  r = await api('PUT', '/v1/me/consent', { personalization: false }, me);
  check(r.status === 200, `opt-out: ${r.status}`);
  const mark = events.length;
  const other = s.ids[2];
  await page.click(`#hits .hit[data-id="${other}"]`);
  for (let i = 0; i < 50 && !events.slice(mark).some((e) => e.body && e.body.counts); i++)
    await page.waitForTimeout(100);
  const after = events.slice(mark).filter((e) => e.body && e.body.counts);
  check(after.length > 0 && after.every((e) => e.status === 200 && e.body.counts.stored === 0 &&
                                              e.body.counts.anonymous >= 1),
        `after the opt-out the click is anonymous: ${JSON.stringify(events.slice(mark))}`);
  r = await api('GET', '/v1/me/history', undefined, me);
  check(r.status === 200 && r.json.items.length === 0,
        `after the opt-out the history is empty: ${JSON.stringify(r.json)}`);
  r = await api('GET', '/v1/me/export', undefined, me);
  check(r.status === 200 && !JSON.stringify(r.json).includes(`"${other}"`),
        'the export holds nothing of the click after the opt-out');

  // 8. No results.
  await page.fill('.ais-SearchBox-input', 'zzqxnomatchzz');
  for (let i = 0; i < 50 && !(await shown(page)).empty; i++) await page.waitForTimeout(100);
  check((await shown(page)).empty, 'a query that matches nothing shows the no-results state');

  check(errors.length === 0, `no script errors: ${errors.join('; ')}`);
  await browser.close();
  console.log(failures ? `${failures} of ${checks} checks failed` : `ok ${checks} checks`);
  process.exit(failures ? 1 : 0);
})().catch((e) => {
  console.log(`FAIL: ${e.stack}`);
  process.exit(1);
});
