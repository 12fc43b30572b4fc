// analyst_page.js: drives the analyst page (api/analyst/) in Debian's chromium, headless, through
// playwright-core, against a running souk-server. Run by tests/test_analyst_page.c:
//   node analyst_page.js PORT ADMIN_KEY SCREENSHOT_DIR
// with PLAYWRIGHT_CORE (the package folder) and CHROMIUM (the browser binary) in the environment.
// Every check compares what the page shows with what the API answers for the same request.
// Prints "ok N checks" and exits 0, or prints each failure and exits 1.
'use strict';
const http = require('http');
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const [port, key, shots] = process.argv.slice(2);
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
function api(method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? null : JSON.stringify(body);
    const req = http.request(`${base}${path}`, {
      method,
      headers: Object.assign({ 'X-Api-Key': key },
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

async function ids(page, list) {
  return page.$$eval(`#${list} li`, (lis) => lis.map((li) => li.dataset.id));
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  // Script errors fail the test; a refused request (the wrong key below) is the server's answer,
  // which the page shows, not an error of the page.
  page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') &&
                            consoleErrors.push(m.text()));
  await page.goto(`${base}/analyst/`);
  check((await page.title()) === 'Souk analyst', 'the page loads with its title');

  // A wrong key: the page says so, with the server's error code.
  await page.fill('#key', 'not-the-key');
  await page.click('#keyform button');
  await page.waitForSelector('#error:not([hidden])');
  check((await page.textContent('#error')).includes('invalid_credentials'),
        'a wrong key shows the server\'s invalid_credentials');

  // The right key.
  await page.fill('#key', key);
  await page.click('#keyform button');
  await page.waitForFunction(() => document.getElementById('keystate').textContent !== '');
  check(await page.isHidden('#error'), 'the admin key is accepted');

  // Side by side: the default ranking against a profile that boosts installed size.
  const q = 'text editor';
  await page.fill('#cq', q);
  await page.fill('#cleft', '');
  await page.fill('#cright', 'popular');
  await page.click('#compareform button');
  await page.waitForSelector('#righthits li');
  const left = await ids(page, 'lefthits'), right = await ids(page, 'righthits');
  const a = await api('POST', '/v1/search', { q, per_page: 10 });
  const b = await api('POST', '/v1/search', { q, per_page: 10, profile: 'popular' });
  check(JSON.stringify(left) === JSON.stringify(a.json.hits.map((h) => h.id)),
        'the left column is the default ranking, in order');
  check(JSON.stringify(right) === JSON.stringify(b.json.hits.map((h) => h.id)),
        'the right column is the profile\'s ranking, in order');
  check(JSON.stringify(left) !== JSON.stringify(right), 'the two profiles rank differently');
  // Moved items are marked: each mark agrees with the two lists.
  const marks = await page.$$eval('#righthits li', (lis) =>
    lis.map((li) => [li.dataset.id, (li.querySelector('[data-move]') || {}).dataset?.move || '']));
  let marked = 0, right_marks = 0;
  marks.forEach(([id, m], i) => {
    const j = left.indexOf(id);
    const want = j < 0 ? 'new' : j > i ? 'up' : j < i ? 'down' : '';
    if (m) marked++;
    if (m === want) right_marks++;
  });
  check(marked > 0, 'moved items are marked');
  check(right_marks === marks.length, 'every move mark matches the two rankings');

  // An explanation on demand: it lists the parts, and shows the hit's score.
  await page.click('#righthits li:first-child');
  await page.waitForSelector('#righthits li:first-child .explain');
  const ex = await page.textContent('#righthits li:first-child .explain');
  const top = b.json.hits[0];
  check(ex.includes('installed_size_kb'), 'the explanation shows the profile\'s boost');
  check(ex.length > 20 && /=\s*[0-9]/.test(ex), 'the explanation shows scored parts');
  check((await page.textContent('#righthits li:first-child .score')).startsWith(
          Number.isInteger(top.score) ? String(top.score)
            : top.score >= 100 ? top.score.toFixed(1) : top.score.toFixed(4)),
        'the hit shows its score');
  await page.screenshot({ path: `${shots}/analyst-compare.png`, fullPage: true });

  // Profiles: load one, edit it, preview the edit against the current version, save it.
  await page.click('nav button[data-tab="profiles"]');
  await page.fill('#pname', 'popular');
  await page.click('#pload');
  await page.waitForFunction(() => document.getElementById('pdoc').value !== '');
  const cur = await api('GET', '/v1/profiles/popular');
  check(JSON.stringify(JSON.parse(await page.inputValue('#pdoc'))) ===
          JSON.stringify(cur.json.profile), 'the editor holds the current version\'s document');
  const v0 = cur.json.version;
  const edited = Object.assign({}, cur.json.profile, { bm25: { k1: 2, b: 0.9 } });
  await page.fill('#pdoc', JSON.stringify(edited, null, 2));
  await page.fill('#pq', 'file manager');
  await page.click('#ppreview');
  await page.waitForSelector('#pedited li');
  const pc = await ids(page, 'pcurrent'), pe = await ids(page, 'pedited');
  const sc = await api('POST', '/v1/search', { q: 'file manager', per_page: 10, profile: 'popular' });
  const sd = await api('POST', '/v1/search', { q: 'file manager', per_page: 10, profile_draft: edited });
  check(JSON.stringify(pc) === JSON.stringify(sc.json.hits.map((h) => h.id)),
        'the preview\'s current column is the stored version\'s ranking');
  check(JSON.stringify(pe) === JSON.stringify(sd.json.hits.map((h) => h.id)),
        'the preview\'s edited column is the edited document\'s ranking');
  check((await api('GET', '/v1/profiles/popular')).json.version === v0,
        'a preview stores nothing');
  await page.click('#psave');
  await page.waitForFunction(() => document.getElementById('pstate').textContent.startsWith('saved'));
  const after = await api('GET', '/v1/profiles/popular');
  check(after.json.version === v0 + 1, 'saving makes the next version');
  check(JSON.stringify(after.json.profile.bm25) === JSON.stringify({ k1: 2, b: 0.9 }),
        'the saved version holds the edit');
  // The list is fetched again after "saved" shows: wait for it (bounded) rather than race it.
  const listed = await page
    .waitForFunction((n) => document.querySelectorAll('#pversions option').length === n, v0 + 1,
      { timeout: 10000 })
    .then(() => true, () => false);
  check(listed, 'the version list shows every version');
  // An invalid edit is refused with the member named, and the current version stays.
  await page.fill('#pdoc', JSON.stringify({ bm25: { k1: -1 } }));
  await page.click('#psave');
  await page.waitForSelector('#error:not([hidden])');
  check((await page.textContent('#error')).includes('bm25.k1'), 'an invalid profile names bm25.k1');
  check((await api('GET', '/v1/profiles/popular')).json.version === v0 + 1,
        'a refused profile changes nothing');
  await page.screenshot({ path: `${shots}/analyst-profiles.png`, fullPage: true });

  // Evaluation: judged queries (graded from the default ranking's own hits, so both profiles
  // find some) against the default ranking and the profile.
  const judged = [];
  for (const jq of ['text editor', 'file manager', 'image viewer', 'web browser']) {
    const r = await api('POST', '/v1/search', { q: jq, per_page: 5 });
    const ratings = {};
    r.json.hits.forEach((h, i) => (ratings[h.id] = i < 2 ? 2 : i < 4 ? 1 : 0));
    judged.push({ query: jq, ratings });
  }
  await page.click('nav button[data-tab="evaluate"]');
  await page.fill('#ejudged', judged.map((q) => JSON.stringify(q)).join('\n'));
  await page.fill('#eprofiles', 'default, popular');
  await page.fill('#ek', '5');
  await page.click('#erun');
  await page.waitForSelector('#emetrics tr:nth-child(3)');
  const ev = await api('POST', '/v1/rank-eval', { queries: judged, profiles: [null, 'popular'], k: 5 });
  const rows = await page.$$eval('#emetrics tr', (trs) =>
    trs.slice(1).map((tr) => [...tr.children].map((td) => td.textContent)));
  check(rows.length === 2 && rows[0][0] === 'default' && rows[1][0] === 'popular',
        'one metrics row per profile');
  check(rows.every((r, i) => Number(r[1]).toFixed(4) === ev.json.profiles[i].map.toFixed(4) &&
                             Number(r[2]).toFixed(4) === ev.json.profiles[i].ndcg.toFixed(4)),
        'the page\'s MAP and nDCG are the endpoint\'s');
  check(ev.json.profiles[0].map > 0.9, 'the default ranking finds its own judged hits');
  const bars = await page.$$eval('#echart rect', (r) => r.length);
  check(bars === ev.json.deltas.queries.length, 'one bar per query delta');
  await page.screenshot({ path: `${shots}/analyst-evaluate.png`, fullPage: true });

  // Query analytics: the k-anonymous table, as the endpoint gives it.
  await page.click('nav button[data-tab="analytics"]');
  await page.selectOption('#akind', 'popular');
  await page.click('#analyticsform button');
  await page.waitForSelector('#atable tr:nth-child(2)');
  const an = await api('GET', '/v1/analytics/queries?kind=popular');
  const arows = await page.$$eval('#atable tr', (trs) =>
    trs.slice(1).map((tr) => [...tr.children].map((td) => td.textContent)));
  check(arows.length === an.json.rows.length && arows.length >= 1,
        'the analytics table has the endpoint\'s rows');
  check(arows.some((r) => r.includes('text editor')), 'the popular query is listed');
  check((await page.textContent('#ameta')).includes(`k = ${an.json.k}`), 'the table says its k');

  check(consoleErrors.length === 0, `no script errors (${consoleErrors.join('; ')})`);
  await browser.close();
  console.log(`${failures ? 'failed' : 'ok'} ${checks} checks, ${failures} failed`);
  process.exit(failures ? 1 : 0);
})().catch((e) => {
  console.log(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
