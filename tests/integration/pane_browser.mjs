// pane_browser: the operator's pane (paned) in a real browser (Debian's
// chromium driven by puppeteer-core) against the real pipeline (scripts/dvm
// start with the relay, Ollama and LNbits doubles of the e2e suite).
import { World, Report, check, eq, sleep, waitFor, ctlRaw, bolt11, mktemp, MODEL } from '../e2e/lib.mjs';
import { existsSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import net from 'node:net';
import puppeteer from 'puppeteer-core';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const rep = new Report(import.meta.url, 240000);
const w = new World({ relays: 1, conf: { pane: 'yes' } });
let browser, page, url, port, consoleErrors = [];

function raw(req) {	// a request exactly as written (no Host added)
  return new Promise((resolve, reject) => {
    const s = net.createConnection(port, '127.0.0.1', () => s.write(req));
    let b = '';
    s.on('data', d => { b += d; });
    s.on('end', () => resolve(b));
    s.on('error', reject);
    setTimeout(() => { s.destroy(); resolve(b); }, 3000);
  });
}
function req(path, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    if (body !== undefined) headers = { ...headers, 'Content-Length': Buffer.byteLength(body) };
    const r = http.request({ host: '127.0.0.1', port, path, method, headers }, res => {
      let b = '';
      res.on('data', d => { b += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: b }));
    });
    r.on('error', reject);
    if (body) r.write(body);
    r.end();
  });
}
const host = () => `127.0.0.1:${port}`;
async function login() {	// a session cookie, the way the browser gets it
  const r = await req('/?token=' + url.split('token=')[1], { headers: { Host: host() } });
  eq(r.status, 303, 'login answer');
  return r.headers['set-cookie'][0].split(';')[0];
}
const status = () => w.pipe.ctl('status');

async function openPage() {
  page = await browser.newPage();
  consoleErrors = [];	/* the page before a restart saw the DVM go away */
  page.on('console', m => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', e => consoleErrors.push(String(e)));
  await page.setViewport({ width: 1100, height: 1400 });
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(() => document.getElementById('state').textContent !== '…', { timeout: 10000 });
}
const pageText = (sel) => page.$eval(sel, e => e.textContent);

await rep.run('pipeline with the pane starts', async () => {
  check(existsSync(CHROMIUM), `${CHROMIUM} is missing: make deps installs Debian's chromium`);
  await w.start();
  port = w.pipe.kv.pane_port;
  await waitFor(() => /dvm: the pane: http/.test(w.pipe.child.out), 40000, 'the launcher printing the pane URL');
  const r = await ctlRaw(w.pipe.confPath, ['pane']);
  eq(r.code, 0, `dvmctl pane exit (${r.stderr})`);
  url = r.stdout.split('\n')[0];
  check(new RegExp(`^http://127\\.0\\.0\\.1:${port}/\\?token=[0-9a-f]{64}$`).test(url), `first line ${url}`);
  check(w.pipe.child.out.includes(url), 'the launcher did not print the pane URL');
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}, 90000);

await rep.run('bad or missing Host gets 403; the CSP header is set', async () => {
  eq((await req('/', { headers: { Host: 'evil.example:' + port } })).status, 403, 'bad Host');
  eq((await req('/api/status', { headers: { Host: `127.0.0.1:${port + 1}` } })).status, 403, 'wrong port in Host');
  check(/^HTTP\/1\.1 403/.test(await raw('GET / HTTP/1.1\r\n\r\n')), 'missing Host not 403');
  const ok = await req('/', { headers: { Host: host() } });
  eq(ok.status, 200, 'good Host');
  check(/default-src 'none'/.test(ok.headers['content-security-policy'] || '') &&
    /script-src 'self'/.test(ok.headers['content-security-policy']), `CSP ${ok.headers['content-security-policy']}`);
  check(!/<script>|style=/.test(ok.body), 'inline script or style in the page');
  eq((await req('/api/status', { headers: { Host: host() } })).status, 401, 'API without the cookie');
  eq((await req('/?token=' + '0'.repeat(64), { headers: { Host: host() } })).status, 403, 'wrong token');
});

await rep.run('token login gives an HttpOnly SameSite=Strict cookie; no secret in any answer', async () => {
  const r = await req('/?token=' + url.split('token=')[1], { headers: { Host: host() } });
  eq(r.status, 303, 'login');
  eq(r.headers.location, '/', 'redirect');
  const c = r.headers['set-cookie'][0];
  check(/HttpOnly/.test(c) && /SameSite=Strict/.test(c), `cookie ${c}`);
  const cookie = c.split(';')[0], tok = url.split('token=')[1];
  const apiKey = w.lnbits.apiKey;
  for (const p of ['/', '/pane.js', '/api/status', '/api/stats', '/api/daily', '/api/jobs', '/api/prices']) {
    const a = await req(p, { headers: { Host: host(), Cookie: cookie } });
    eq(a.status, 200, p);
    check(!a.body.includes(tok) && !a.body.includes(apiKey), `${p} carries a secret`);
  }
});

await rep.run('log in in the browser; lights match dvmctl status --json', async () => {
  await openPage();
  eq(new URL(page.url()).search, '', 'the token left the address bar');
  const s = await status();
  const word = await pageText('#state');
  const want = !s.online ? 'offline' : (s.relays.connected > 0 && s.inference.ok && s.inference.model_ok &&
    (s.payment_mode === 'free' || s.payments.ok)) ? 'online' : 'degraded';
  eq(word, want, 'state word');
  eq(await pageText('#toggle'), s.online ? 'GO OFFLINE' : 'GO ONLINE', 'button label');
  eq(await pageText('#relays'), `${s.relays.connected} of ${s.relays.total} connected`, 'relays');
  check((await pageText('#inference')).startsWith(s.inference.ok ? 'backend up' : 'backend down'), 'inference light');
  check((await pageText('#wallet')).startsWith(`${s.payments.backend}: ${s.payments.ok ? 'ok' : 'not ok'}`), 'wallet light');
  eq(await pageText('#mode'), 'pay after', 'earning mode');
});

let job;
await rep.run('a job served through the relay shows in the history with its price, then paid', async () => {
  const r = await w.request({ prompt: 'pane history job, tell me about <b>bold</b> owls', to: w.dvm });
  const res = await w.waitResult(r);
  const j = await waitFor(() => w.pipe.job(r.id), 5000, 'job in dvmctl jobs');
  const t0 = Date.now();
  const row = `tr[data-id="${r.id}"]`;
  await page.waitForSelector(row, { timeout: 10000 });
  console.log(`# the job appeared in the page ${Date.now() - t0} ms after dvmctl jobs had it`);
  eq(await page.$eval(row + ' .price', e => e.textContent), String(Math.ceil(j.price_msat / 1000)), 'price column');
  eq(await page.$eval(row + ' .paid', e => e.textContent), 'unpaid', 'paid column before payment');
  w.pay(w.invoiceOf(res.bolt11).hash);
  await page.waitForFunction(s => { const e = document.querySelector(s + ' .paid'); return e && e.textContent === 'paid'; },
    { timeout: 15000 }, row);
  job = j;
});

await rep.run('earnings totals and chart reflect the paid job', async () => {
  check(job, 'no job from the scenario before');
  const sats = Math.floor(job.price_msat / 1000);
  await page.waitForFunction(n => {
    const e = document.querySelector('tr[data-period="today"] .received');
    return e && Number(e.textContent) >= n;
  }, { timeout: 10000 }, sats);
  const asked = Number(await page.$eval('tr[data-period="all"] .asked', e => e.textContent));
  check(asked >= sats, `asked all ${asked} < ${sats}`);
  const bars = await page.$$eval('#chart rect[data-series="received"]', es => es.map(e => Number(e.dataset.value)));
  eq(bars.length, 30, 'one received bar per day');
  check(bars[bars.length - 1] >= sats, `today's received bar ${bars[bars.length - 1]}`);
  check((await page.$$('#chart rect[data-series="asked"]')).length === 30, 'asked series');
  await page.click('#chart-hours');
  eq((await page.$$('#chart rect[data-series="received"]')).length, 24, 'hour bars');
  await page.click('#chart-days');
});

await rep.run('GO OFFLINE: dvmctl says offline, a request goes unanswered; GO ONLINE brings it back', async () => {
  const labels = [];
  await page.exposeFunction('noteLabel', l => labels.push(l));
  await page.evaluate(() => new MutationObserver(() => {
    const t = document.getElementById('toggle');
    window.noteLabel(t.textContent + (t.disabled ? ' [disabled]' : ''));
  }).observe(document.getElementById('toggle'), { childList: true, characterData: true, subtree: true, attributes: true }));
  await page.click('#toggle');
  await page.waitForFunction(() => document.getElementById('toggle').textContent === 'GO ONLINE', { timeout: 10000 });
  check(labels.includes('Going offline... [disabled]'), `labels seen: ${JSON.stringify(labels)}`);
  eq((await status()).online, false, 'dvmctl status online');
  eq(await pageText('#state'), 'offline', 'state word');
  const r = await w.request({ prompt: 'asked while offline', to: w.dvm });
  let answered = true;
  await w.waitFeedback(r, 'processing', 4000).catch(() => { answered = false; });
  eq(answered, false, 'a request was answered while offline');
  await page.click('#toggle');
  await page.waitForFunction(() => document.getElementById('toggle').textContent === 'GO OFFLINE', { timeout: 10000 });
  check(labels.includes('Going online... [disabled]'), `labels seen: ${JSON.stringify(labels)}`);
  eq((await status()).online, true, 'dvmctl status online again');
  const r2 = await w.request({ prompt: 'asked after coming back', to: w.dvm });
  await w.waitResult(r2);
});

await rep.run('a page from another origin cannot toggle anything', async () => {
  const evil = http.createServer((q, s) => {
    s.setHeader('content-type', 'text/html');
    s.end(`<html><body><form id=f method=POST action="http://127.0.0.1:${port}/api/offline"></form>
<script>
fetch("http://127.0.0.1:${port}/api/offline", {method:"POST", mode:"no-cors", credentials:"include"}).catch(()=>{});
fetch("http://127.0.0.1:${port}/api/offline", {method:"POST", credentials:"include", headers:{"X-Pane":"1"}}).catch(()=>{});
setTimeout(()=>{document.getElementById("f").submit()}, 300);
</script></body></html>`);
  });
  await new Promise(r => evil.listen(0, '127.0.0.1', r));
  const ep = await browser.newPage();
  await ep.goto(`http://localhost:${evil.address().port}/`);
  await sleep(1500);
  await ep.close();
  evil.close();
  eq((await status()).online, true, 'online after the foreign page');
  // The server's own rules, one at a time (a browser would never send these).
  const cookie = await login();
  const base = { Host: host(), Cookie: cookie, 'X-Pane': '1', Origin: `http://${host()}` };
  const tries = [
    [{ ...base, Cookie: '' }, 'no cookie'], [{ ...base, 'X-Pane': '' }, 'no X-Pane'],
    [{ ...base, Origin: 'http://evil.example' }, 'foreign Origin'], [{ ...base, Origin: undefined }, 'no Origin'],
    [{ ...base, 'Sec-Fetch-Site': 'cross-site' }, 'Sec-Fetch-Site cross-site'],
  ];
  for (const [h, what] of tries) {
    for (const k of Object.keys(h)) if (h[k] === undefined || h[k] === '') delete h[k];
    eq((await req('/api/offline', { method: 'POST', headers: h })).status, 403, what);
  }
  eq((await status()).online, true, 'still online');
  eq((await req('/api/online', { method: 'GET', headers: base })).status, 404, 'a GET changes nothing');
  const big = JSON.stringify({ min_price_sats: 1, pad: 'x'.repeat(5000) });
  eq((await req('/api/prices', { method: 'POST', headers: { ...base, 'Content-Type': 'application/json' }, body: big })).status,
    413, 'a body over the cap');
});

await rep.run('a price changed in the page sets the next invoice and survives a restart', async () => {
  await page.$eval('#min_price_sats', e => { e.value = ''; });
  await page.type('#min_price_sats', '500');
  await page.click('#save');
  await page.waitForFunction(() => /^Saved/.test(document.getElementById('price-msg').textContent), { timeout: 10000 });
  const bad = await login();
  const e = await req('/api/prices', { method: 'POST', body: '{"min_price_sats":-3}',
    headers: { Host: host(), Cookie: bad, 'X-Pane': '1', Origin: `http://${host()}`, 'Content-Type': 'application/json' } });
  eq(e.status, 400, 'a bad price');
  check(/min_price_sats/.test(JSON.parse(e.body).error), `error ${e.body}`);
  const r = await w.request({ prompt: 'priced by the pane', to: w.dvm });
  const res = await w.waitResult(r);
  eq(Number(bolt11.decode(res.bolt11).millisatoshis), 500000, 'next invoice amount (msat)');
  await w.pipe.stop();
  await w.pipe.start();
  const c = await ctlRaw(w.pipe.confPath, ['conf', 'min_price_sats']);
  eq(c.stdout.trim(), '500', 'min_price_sats after a restart');
  url = (await ctlRaw(w.pipe.confPath, ['pane'])).stdout.split('\n')[0];
  /* the launcher starts paned last: the pipeline may be up before it listens */
  await waitFor(async () => (await req('/', { headers: { Host: host() } })).status > 0, 30000,
    'the pane listening after the restart');
  await page.close();
  await openPage();
  await page.waitForFunction(() => document.getElementById('min_price_sats').value === '500', { timeout: 10000 });
}, 90000);

await rep.run('a per-model price set in the page prices the next job for that model', async () => {
  eq(await page.$eval('#model_prices', e => e.value), '', 'no per-model prices yet');
  await page.type('#model_prices', `${MODEL}=700/0`);
  await page.evaluate(() => { document.getElementById('price-msg').textContent = ''; });
  await page.click('#save');
  await page.waitForFunction(() => /^Saved/.test(document.getElementById('price-msg').textContent), { timeout: 10000 });
  check((await pageText('#price-msg')).includes(`per model: ${MODEL}=700/0`), `message ${await pageText('#price-msg')}`);
  const ck = await login();
  const h = { Host: host(), Cookie: ck, 'X-Pane': '1', Origin: `http://${host()}`, 'Content-Type': 'application/json' };
  const e = await req('/api/prices', { method: 'POST', body: JSON.stringify({ model_prices: `${MODEL}=7` }), headers: h });
  eq(e.status, 400, 'a bad per-model entry');
  check(/model_prices: bad value .*NAME=MIN\/PER1K/.test(JSON.parse(e.body).error), `error ${e.body}`);
  eq((await req('/api/prices', { method: 'POST', body: '{"model_prices":5}', headers: h })).status, 400, 'a number');
  const p = JSON.parse((await req('/api/prices', { headers: { Host: host(), Cookie: ck } })).body);
  eq(p.prices.model_prices, `${MODEL}=700/0`, 'prices_get after a refused change');
  check(p.editable.includes('model_prices'), `editable ${p.editable}`);
  const r = await w.request({ prompt: 'priced per model by the pane', to: w.dvm });
  const res = await w.waitResult(r);
  eq(Number(bolt11.decode(res.bolt11).millisatoshis), 700000, 'next invoice amount (msat), the model\'s minimum');
  const c = await ctlRaw(w.pipe.confPath, ['conf', 'model_prices']);
  eq(c.stdout.trim(), `${MODEL}=700/0`, 'dvmctl conf model_prices');
});

// A hold pipeline (LND double, payment_mode = hold) is e2e_hold's; here the page is fed this
// run's own rows and stats with escrow set the way jobd/ledger.c's row_json and stats give it.
await rep.run('escrow: held/settled/refunded in the paid column, counts in the earnings panel', async () => {
  const ck = await login(), hg = { Host: host(), Cookie: ck };
  const stats = JSON.parse((await req('/api/stats', { headers: hg })).body);
  eq(JSON.stringify(stats.escrow), '{}', 'pay-after: no escrow in stats');
  await page.waitForFunction(() => document.getElementById('escrow').hidden, { timeout: 10000 });
  const jobs = JSON.parse((await req('/api/jobs?offset=0&limit=20', { headers: hg })).body);
  check(jobs.jobs.length >= 3, `only ${jobs.jobs.length} jobs`);
  const want = ['held', 'settled', 'refunded'];
  want.forEach((e, i) => { eq(jobs.jobs[i].escrow, '', `row ${i} escrow`); jobs.jobs[i].escrow = e; });
  stats.escrow = { held: 1, settled: 2, refunded: 3, settle: 0 };
  const feed = r => {
    const path = new URL(r.url()).pathname;
    const body = path === '/api/jobs' ? jobs : path === '/api/stats' ? stats : null;
    if (body) r.respond({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
    else r.continue();
  };
  await page.setRequestInterception(true);
  page.on('request', feed);
  try {
    for (let i = 0; i < 3; i++)
      await page.waitForFunction((id, e) => { const c = document.querySelector(`tr[data-id="${id}"] .paid`);
        return c && c.textContent === e && c.dataset.escrow === e; }, { timeout: 10000 }, jobs.jobs[i].id, want[i]);
    await page.waitForFunction(() => !document.getElementById('escrow').hidden, { timeout: 15000 });
    for (const [k, n] of [['held', 1], ['settled', 2], ['refunded', 3]])
      eq(await page.$eval(`#escrow [data-escrow="${k}"]`, e => e.textContent), `${n} ${k}`, `escrow count ${k}`);
    eq(await page.$$eval('#escrow [data-escrow]', l => l.length), 3, 'a zero count is not shown');
  } finally {
    page.off('request', feed);
    await page.setRequestInterception(false);
  }
  /* back to the real rows: no escrow, the paid column says paid/unpaid again */
  await page.waitForFunction(id => { const c = document.querySelector(`tr[data-id="${id}"] .paid`);
    return c && !c.dataset.escrow && /^(paid|unpaid|free)$/.test(c.textContent); }, { timeout: 10000 }, jobs.jobs[0].id);
  await page.waitForFunction(() => document.getElementById('escrow').hidden, { timeout: 15000 });
});

await rep.run('phone-sized screen; screenshot; no console error', async () => {
  const dir = mktemp('pane-shot');
  await page.screenshot({ path: join(dir, 'pane.png'), fullPage: true });
  if (process.env.PANE_SCREENSHOT) copyFileSync(join(dir, 'pane.png'), process.env.PANE_SCREENSHOT);
  console.log(`# screenshot: ${join(dir, 'pane.png')}`);
  await page.setViewport({ width: 375, height: 800 });
  const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(over <= 1, `the page is ${over}px wider than a phone screen`);
  eq(consoleErrors.length, 0, `console errors: ${consoleErrors.join(' | ')}`);
});

if (browser) await browser.close();
await w.stopAll(rep);
rep.done();
