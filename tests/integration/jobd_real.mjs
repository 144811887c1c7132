// jobd with the real spokes: relayd, inferd and invoiced from $BIN, two real
// relays (tests/lib/relay.mjs), the Ollama and LNbits doubles, and a
// nostr-tools requester on the relays. Each daemon is started directly
// (no launcher) so the test can kill -9 any one of them mid-job and start
// it again: the job must still end with exactly one result event and one
// invoice. Covers plain, NIP-04 and NIP-44 requests answered in kind,
// pay-after and pay-first (switched with SIGHUP), and one request seen on
// two relays making one job.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import WebSocket from 'ws';
import { finalizeEvent, generateSecretKey, getPublicKey, verifyEvent } from 'nostr-tools/pure';
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay';
import * as nip04 from 'nostr-tools/nip04';
import * as nip44 from 'nostr-tools/nip44';
import { startRelay } from '../lib/relay.mjs';
import { startOllamaDouble } from '../lib/ollama-double.mjs';
import { startLnbitsDouble } from '../lib/lnbits-double.mjs';
import { reporter, assert } from '../lib/jobd-rig.mjs';

useWebSocketImplementation(WebSocket);
const require = createRequire(import.meta.url);
const bolt11 = require('bolt11');
const BIN = process.env.BIN || 'bin';
const T = reporter('jobd_real.mjs');
const procs = new Map();
const logs = {};
const hard = setTimeout(() => { console.log('FAIL: jobd_real.mjs: hard timeout'); killAll(); process.exit(1); }, 110000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(cond, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) { const v = await cond(); if (v) return v; await sleep(50); }
  throw new Error('timeout waiting for ' + what);
}
function killAll() { for (const p of procs.values()) try { p.kill('SIGKILL'); } catch {} }

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobd-real-'));
const state = path.join(dir, 'var');
fs.mkdirSync(path.join(state, 'run'), { recursive: true });
const sk = generateSecretKey();
const dvmPk = getPublicKey(sk);
fs.writeFileSync(path.join(state, 'key'), Buffer.from(sk).toString('hex') + '\n', { mode: 0o600 });

const relays = [await startRelay({}), await startRelay({})];
const ollama = await startOllamaDouble({});
const lnbits = await startLnbitsDouble({ network: 'regtest' });
fs.writeFileSync(path.join(dir, 'lnbits.key'), lnbits.apiKey + '\n', { mode: 0o600 });
const conf = {
  state_dir: state, relays: relays.map((r) => r.url).join(' '), infer_urls: ollama.url,
  model: 'llama3.2', wallet: 'lnbits', lnbits_url: lnbits.url,
  lnbits_api_key_file: path.join(dir, 'lnbits.key'), lightning_network: 'regtest',
  payment_mode: 'after', min_price_sats: 1, price_per_1k_tokens: 1000,
  invoice_poll_fast_ms: 200, invoice_poll_slow_ms: 300, relay_backoff_max: 2,
};
const confFile = path.join(dir, 'dvm.conf');
const writeConf = () => fs.writeFileSync(confFile, Object.entries(conf).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
writeConf();

async function start(name) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DVM_')));
  const args = ['-c', confFile, '--notify-fd', '3', ...(process.env.JOBD_DEBUG ? ['-v'] : [])];
  const p = spawn(path.join(BIN, name), args, { env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  logs[name] = logs[name] || '';
  p.stderr.on('data', (d) => { logs[name] += d; if (process.env.JOBD_DEBUG) process.stderr.write(`[${name}] ${d}`); });
  p.exited = new Promise((res) => p.on('exit', (c, s) => res(c === null ? s : c)));
  await new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`${name} not ready: ${logs[name].slice(-400)}`)), 15000);
    p.stdio[3].on('data', () => { clearTimeout(t); res(); });
    p.on('exit', (c) => { clearTimeout(t); rej(new Error(`${name} exited ${c}: ${logs[name].slice(-400)}`)); });
  });
  procs.set(name, p);
  return p;
}
async function kill9(name) { const p = procs.get(name); p.kill('SIGKILL'); await p.exited; }
async function stop(name) {
  const p = procs.get(name);
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 8000);
  const c = await p.exited; clearTimeout(t);
  return c;
}
function ctl(obj) {
  return new Promise((res, rej) => {
    const c = new (require('node:net').Socket)();
    let buf = '';
    const t = setTimeout(() => { c.destroy(); rej(new Error('control timeout')); }, 5000);
    c.connect(path.join(state, 'run', 'control.sock'), () => c.write(JSON.stringify(obj) + '\n'));
    c.on('data', (d) => { buf += d; const i = buf.indexOf('\n'); if (i >= 0) { clearTimeout(t); c.destroy(); res(JSON.parse(buf.slice(0, i))); } });
    c.on('error', (e) => { clearTimeout(t); rej(e); });
  });
}

// The requester: connected to both relays, collects everything for it.
const user = generateSecretKey();
const userPk = getPublicKey(user);
const seen = new Map();
let badEvents = 0;
const conns = [];
for (const r of relays) {
  const c = await Relay.connect(r.url);
  c.subscribe([{ kinds: [6050, 7000], '#p': [userPk] }], {
    onevent(e) { if (!verifyEvent(e)) badEvents++; seen.set(e.id, e); },
  });
  conns.push(c);
}
const forJob = (id, kind) => [...seen.values()].filter((e) => e.kind === kind && e.tags.some((t) => t[0] === 'e' && t[1] === id));
const tag = (e, n) => e.tags.find((t) => t[0] === n);
function request(text, extra = [], content = '') {
  return finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags: [['i', text, 'text'], ['p', dvmPk], ...extra], content }, user);
}
async function send(ev, which = [0]) { for (const i of which) await conns[i].publish(ev); }
const hashOf = (pr) => bolt11.decode(pr).tagsObject.payment_hash;
const inferencesOf = async (text) => (await (await fetch(ollama.url + '/_log')).json()).requests
  .filter((q) => q.path === '/api/chat' && JSON.stringify(q.body || {}).includes(text));

try {
  for (const n of ['relayd', 'inferd', 'invoiced', 'jobd']) await start(n);
  await waitFor(async () => { const s = await ctl({ op: 'status' }); return s.relays.connected === 2 && s.spokes.inferd && s.spokes.invoiced; }, 15000, 'jobd status: all connected');

  await T.run('pay-after, plain: result with amount and a real bolt11; paying it shows paid', async () => {
    const req = request('plain question');
    await send(req);
    const res = (await waitFor(() => forJob(req.id, 6050)[0], 15000, 'result'));
    assert(res.content === 'Echo: plain question', 'content ' + res.content);
    const amt = tag(res, 'amount');
    const dec = bolt11.decode(amt[2]);
    assert(String(dec.millisatoshis) === amt[1], 'bolt11 amount = amount tag');
    lnbits.pay(hashOf(amt[2]));
    await waitFor(async () => (await ctl({ op: 'jobs' })).jobs.find((j) => j.id === req.id)?.paid, 10000, 'paid in jobs');
  });

  for (const scheme of ['nip04', 'nip44']) {
    await T.run(`${scheme} request answered in kind through the real pipeline`, async () => {
      const inner = JSON.stringify([['i', `hidden ${scheme} text`, 'text']]);
      const content = scheme === 'nip04' ? nip04.encrypt(user, dvmPk, inner) : nip44.encrypt(inner, nip44.getConversationKey(user, dvmPk));
      const req = finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags: [['p', dvmPk], ['encrypted']], content }, user);
      await send(req);
      const res = await waitFor(() => forJob(req.id, 6050)[0], 15000, 'result');
      const plain = scheme === 'nip04' ? nip04.decrypt(user, dvmPk, res.content) : nip44.decrypt(res.content, nip44.getConversationKey(user, dvmPk));
      assert(plain === `Echo: hidden ${scheme} text`, 'decrypted ' + plain);
      assert(tag(res, 'encrypted') && tag(res, 'amount') && !tag(res, 'i'), 'tags');
    });
  }

  await T.run('one request on two relays: one job, one inference, one result', async () => {
    const req = request('twice seen');
    await send(req, [0, 1]);
    await waitFor(() => forJob(req.id, 6050)[0], 15000, 'result');
    await sleep(800);
    assert(forJob(req.id, 6050).length === 1, 'one result');
    assert((await inferencesOf('twice seen')).length === 1, 'one inference');
  });

  await T.run('kind-5 deletion from the requester cancels mid-inference: no result, no invoice', async () => {
    await ollama.control({ tokenDelayMs: 100 });
    const text = 'cancel me ' + Array.from({ length: 40 }, (_, i) => `c${i}`).join(' ');
    const inv0 = lnbits.payments.size;
    const req = request(text);
    await send(req);
    await waitFor(async () => (await inferencesOf(text)).some((q) => q.tokensSent >= 2), 10000, 'streaming');
    const del = finalizeEvent({ kind: 5, created_at: Math.floor(Date.now() / 1000), content: 'cancel', tags: [['e', req.id], ['k', '5050']] }, user);
    await send(del);
    await waitFor(async () => (await ctl({ op: 'jobs' })).jobs.find((j) => j.id === req.id)?.state === 'cancelled', 8000, 'cancelled in jobs');
    const q = await waitFor(async () => (await inferencesOf(text)).find((x) => x.endedMs), 5000, 'transfer ended');
    assert(q.clientClosed && q.tokensSent < 41, 'transfer aborted');
    await sleep(500);
    assert(forJob(req.id, 6050).length === 0 && lnbits.payments.size === inv0, 'no result, no invoice');
    await ollama.control({ tokenDelayMs: 0 });
  });

  for (const stage of ['jobd', 'inferd', 'invoiced', 'relayd']) {
    await T.run(`kill -9 ${stage} mid-job: one result id, one invoice`, async () => {
      await ollama.control({ tokenDelayMs: 120 });
      const text = `${stage} dies ` + Array.from({ length: 12 }, (_, i) => `w${i}`).join(' ');
      const inv0 = lnbits.payments.size;
      const req = request(text);
      await send(req, [0, 1]);
      await waitFor(async () => (await inferencesOf(text)).some((q) => q.tokensSent >= 2), 10000, 'streaming');
      await kill9(stage);
      await sleep(300);
      await start(stage);
      const res = await waitFor(() => forJob(req.id, 6050)[0], 30000, 'result');
      assert(res.content === 'Echo: ' + text, 'content');
      await sleep(1500);
      assert(forJob(req.id, 6050).length === 1, 'result ids: ' + forJob(req.id, 6050).map((e) => e.id.slice(0, 8)));
      assert(lnbits.payments.size === inv0 + 1, `invoices ${lnbits.payments.size - inv0}`);
      await ollama.control({ tokenDelayMs: 0 });
    });
  }

  await T.run('pay-first after SIGHUP: payment-required, no inference until paid, then the result', async () => {
    conf.payment_mode = 'before';
    writeConf();
    procs.get('jobd').kill('SIGHUP');
    await waitFor(() => logs.jobd.includes('config reloaded'), 5000, 'reload');
    const req = request('pay first please');
    await send(req);
    const pr = await waitFor(() => forJob(req.id, 7000).find((e) => tag(e, 'status')[1] === 'payment-required'), 15000, 'payment-required');
    await sleep(500);
    assert((await inferencesOf('pay first please')).length === 0, 'no inference before payment');
    lnbits.pay(hashOf(tag(pr, 'amount')[2]));
    const res = await waitFor(() => forJob(req.id, 6050)[0], 15000, 'result');
    assert(tag(res, 'amount')[1] === tag(pr, 'amount')[1], 'same amount');
  });

  await T.run('every event received verifies; every daemon exits 0 on SIGTERM', async () => {
    assert(badEvents === 0, 'bad events ' + badEvents);
    for (const n of ['jobd', 'invoiced', 'inferd', 'relayd']) {
      const c = await stop(n);
      assert(c === 0, `${n} exited ${c}: ${logs[n].split('\n').filter((l) => /ERROR|Sanitizer/.test(l)).slice(0, 2).join(' | ')}`);
    }
  });
} catch (e) {
  console.log(`FAIL: jobd_real.mjs: setup: ${String(e.message).replace(/\n/g, ' ')}`);
}
killAll();
for (const c of conns) try { c.close(); } catch {}
for (const r of relays) await r.close().catch(() => {});
await ollama.close().catch(() => {});
await lnbits.close().catch(() => {});
fs.rmSync(dir, { recursive: true, force: true });
clearTimeout(hard);
process.exit(T.failed ? 1 : 0);
