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

  check(consoleErrors.length === 0, `no script errors (${consoleErrors.join('; ')})`);
  await browser.close();
  console.log(`${failures ? 'failed' : 'ok'} ${checks} checks, ${failures} failed`);
  process.exit(failures ? 1 : 0);
})().catch((e) => {
  console.log(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
