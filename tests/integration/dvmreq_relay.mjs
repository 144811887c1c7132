// dvmreq against a real relay (tests/lib/relay.mjs, @nostr-relay/core) with a
// nostr-tools script playing the DVM, plus a forging relay that answers every
// subscription with a result whose signature is wrong. Checks what dvmreq
// prints and how it exits: plain result, payment-required feedback with
// amount and invoice, error feedback (exit 1), NIP-04 and NIP-44 requests
// answered encrypted, forged events ignored and reported, timeout (exit 2),
// usage errors (exit 100), --json output.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { finalizeEvent, verifyEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import * as nip04 from 'nostr-tools/nip04';
import * as nip44 from 'nostr-tools/nip44';
import { npubEncode } from 'nostr-tools/nip19';
import { startRelay } from '../lib/relay.mjs';

const FILE = 'dvmreq_relay.mjs';
const BIN = process.env.BIN || 'bin';
const pass = (c) => console.log(`PASS: ${FILE}: ${c}`);
const fail = (c, why) => console.log(`FAIL: ${FILE}: ${c}: ${String(why).replace(/\n/g, ' | ')}`);
setTimeout(() => { fail('all', 'hard timeout (50 s)'); process.exit(1); }, 50000).unref();

const dvmSk = generateSecretKey();
const dvmPk = getPublicKey(dvmSk);
const FAKE_BOLT11 = 'lnbc210n1pfakeinvoicefortestsonly';

function dvmreq(args, ms = 20000) {
  return new Promise((resolve) => {
    const p = spawn(join(BIN, 'dvmreq'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), ms);
    p.on('exit', (code, sig) => { clearTimeout(t); resolve({ code, sig, out, err }); });
  });
}

// The DVM: answers kind-5050 requests seen on the relay, behaviour chosen by
// the prompt. Encrypted feedback follows docs/NOSTR.md: the content is the
// ciphertext of a JSON array of tags; the outer tags are e, p, encrypted.
function playDvm(url) {
  const ws = new WebSocket(url);
  const send = (ev) => ws.send(JSON.stringify(['EVENT', ev]));
  ws.on('open', () => ws.send(JSON.stringify(['REQ', 'dvm', { kinds: [5050], since: Math.floor(Date.now() / 1000) - 5 }])));
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    if (m[0] !== 'EVENT' || m[1] !== 'dvm' || !verifyEvent(m[2])) return;
    const req = m[2];
    const enc = req.tags.some(t => t[0] === 'encrypted');
    let tags = req.tags, scheme = null;
    if (enc) {
      scheme = req.content.includes('?iv=') ? 'nip04' : 'nip44';
      const plain = scheme === 'nip04' ? nip04.decrypt(dvmSk, req.pubkey, req.content)
        : nip44.decrypt(req.content, nip44.getConversationKey(dvmSk, req.pubkey));
      tags = JSON.parse(plain);
    }
    const prompt = (tags.find(t => t[0] === 'i') || [])[1] || '';
    const params = Object.fromEntries(tags.filter(t => t[0] === 'param').map(t => [t[1], t[2]]));
    const seal = (text) => scheme === 'nip04' ? nip04.encrypt(dvmSk, req.pubkey, text)
      : nip44.encrypt(text, nip44.getConversationKey(dvmSk, req.pubkey));
    const base = [['e', req.id], ['p', req.pubkey]];
    const feedback = (status, msg, extra = []) => {
      const inner = [['status', status, msg], ...extra];
      send(finalizeEvent(enc
        ? { kind: 7000, created_at: Math.floor(Date.now() / 1000), tags: [...base, ['encrypted']], content: seal(JSON.stringify(inner)) }
        : { kind: 7000, created_at: Math.floor(Date.now() / 1000), tags: [...base, ...inner], content: '' }, dvmSk));
    };
    const result = (text, extra = []) => send(finalizeEvent(enc
      ? { kind: 6050, created_at: Math.floor(Date.now() / 1000), tags: [...base, ['encrypted'], ...extra], content: seal(text) }
      : { kind: 6050, created_at: Math.floor(Date.now() / 1000), tags: [...base, ['request', JSON.stringify(req)], ...extra], content: text }, dvmSk));
    if (prompt === 'silent') return;
    if (prompt === 'fail') { feedback('error', 'model not loaded'); return; }
    if (prompt === 'hostile') {	// terminal escapes in every text dvmreq shows
      feedback('partial', 'x\u001b]0;owned\u0007', []);
      feedback('error', 'bad\u001b[2J\u009b31m\rend');
      return;
    }
    feedback('processing', '');
    if (prompt === 'pay me') {
      feedback('payment-required', 'pay first', [['amount', '21000', FAKE_BOLT11]]);
      setTimeout(() => result('paid answer', [['amount', '21000', FAKE_BOLT11]]), 200);
      return;
    }
    const extra = params.model ? ` [model ${params.model}]` : '';
    setTimeout(() => result(`Echo: ${prompt}${extra}${enc ? ` (${scheme})` : ''}`), 100);
  });
  return ws;
}

// A relay that forges: for every REQ with #e, an EVENT that claims to be the
// DVM's result but carries a broken signature.
function startForger() {
  return new Promise((resolve) => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    wss.on('connection', (ws) => ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m[0] === 'EVENT') ws.send(JSON.stringify(['OK', m[1].id, true, '']));
      if (m[0] !== 'REQ' || !m[2]['#e']) return;
      const ev = finalizeEvent({ kind: 6050, created_at: Math.floor(Date.now() / 1000),
        tags: [['e', m[2]['#e'][0]], ['p', dvmPk]], content: 'FORGED ANSWER' }, dvmSk);
      ev.content = 'FORGED ANSWER, altered after signing';
      ws.send(JSON.stringify(['EVENT', m[1], ev]));
    }));
    wss.on('listening', () => resolve({ url: `ws://127.0.0.1:${wss.address().port}`, close: () => wss.close() }));
  });
}

async function cases(relay, forger) {
  const R = ['--relay', relay.url];
  const to = ['--to', npubEncode(dvmPk)];
  const check = async (name, fn) => {
    try { const why = await fn(); if (why) fail(name, why); else pass(name); } catch (e) { fail(name, e.stack || e); }
  };

  await check('plain request gets the result on stdout', async () => {
    const r = await dvmreq([...R, ...to, '--param', 'model', 'm1', 'hello there']);
    if (r.code !== 0) return `exit ${r.code}: ${r.err}`;
    if (r.out !== 'Echo: hello there [model m1]\n') return `stdout ${JSON.stringify(r.out)}`;
    if (!/processing/.test(r.err)) return `no processing feedback on stderr: ${r.err}`;
  });
  await check('payment-required shows amount and invoice', async () => {
    const r = await dvmreq([...R, ...to, '--bid', '50', 'pay me']);
    if (r.code !== 0) return `exit ${r.code}: ${r.err}`;
    if (!/payment-required/.test(r.err) || !/21\.000 sats/.test(r.err) || !r.err.includes(FAKE_BOLT11))
      return `stderr lacks status/amount/invoice: ${r.err}`;
    if (r.out !== 'paid answer\n') return `stdout ${JSON.stringify(r.out)}`;
  });
  await check('error feedback exits 1', async () => {
    const r = await dvmreq([...R, ...to, 'fail']);
    if (r.code !== 1) return `exit ${r.code}`;
    if (!/error: model not loaded/.test(r.err)) return `stderr: ${r.err}`;
  });
  for (const scheme of ['nip04', 'nip44']) {
    await check(`${scheme} request and encrypted replies`, async () => {
      const r = await dvmreq([...R, ...to, '--encrypt', scheme, 'secret prompt']);
      if (r.code !== 0) return `exit ${r.code}: ${r.err}`;
      if (r.out !== `Echo: secret prompt (${scheme})\n`) return `stdout ${JSON.stringify(r.out)}`;
      if (!/processing/.test(r.err)) return `encrypted feedback not shown: ${r.err}`;
    });
  }
  await check('a DVM\'s control characters are escaped on stderr', async () => {
    const r = await dvmreq([...R, ...to, 'hostile']);
    if (r.code !== 1) return `exit ${r.code}: ${r.err}`;
    if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(r.err)) return `raw control in stderr: ${JSON.stringify(r.err)}`;
    if (!r.err.includes('error: bad\\x1b[2J\\xc2\\x9b31m\\x0dend')) return `escaped text not shown: ${JSON.stringify(r.err)}`;
  });
  await check('forged result ignored and reported', async () => {
    const r = await dvmreq(['--relay', forger.url, ...R, ...to, 'hello forger']);
    if (r.code !== 0) return `exit ${r.code}: ${r.err}`;
    if (r.out.includes('FORGED')) return `printed the forged content: ${r.out}`;
    if (r.out !== 'Echo: hello forger\n') return `stdout ${JSON.stringify(r.out)}`;
    if (!/FORGED event/.test(r.err)) return `forgery not reported: ${r.err}`;
  });
  await check('timeout exits 2', async () => {
    const t0 = Date.now();
    const r = await dvmreq([...R, ...to, '--timeout', '2', 'silent']);
    if (r.code !== 2) return `exit ${r.code}: ${r.err}`;
    if (Date.now() - t0 > 6000) return 'took too long';
  });
  await check('--json prints feedback and result objects', async () => {
    const r = await dvmreq([...R, ...to, '--json', 'json please']);
    if (r.code !== 0) return `exit ${r.code}: ${r.err}`;
    const lines = r.out.trim().split('\n').map(l => JSON.parse(l));
    const res = lines.find(l => l.type === 'result');
    if (!res || res.text !== 'Echo: json please' || res.event.kind !== 6050 || !verifyEvent(res.event))
      return `bad json output: ${r.out}`;
    if (!lines.some(l => l.type === 'feedback')) return 'no feedback line';
  });
  await check('usage errors exit 100', async () => {
    for (const args of [[], ['--relay', relay.url], ['hello'], [...R, '--encrypt', 'nip44', 'x'],
      [...R, '--to', 'npub1bad', 'x'], [...R, '--bid', '-3', 'x']]) {
      const r = await dvmreq(args);
      if (r.code !== 100) return `${JSON.stringify(args)} exited ${r.code}`;
    }
  });
  await check('unreachable relay exits 1', async () => {
    const r = await dvmreq(['--relay', 'ws://127.0.0.1:1', 'hello']);
    if (r.code !== 1) return `exit ${r.code}: ${r.err}`;
  });
}

const relay = await startRelay({ port: 0, quiet: true });
const forger = await startForger();
const dvm = playDvm(relay.url);
await new Promise(r => dvm.on('open', r));
await new Promise(r => setTimeout(r, 200));
try {
  await cases(relay, forger);
} finally {
  dvm.close();
  forger.close();
  await relay.close();
}
process.exit(0);
