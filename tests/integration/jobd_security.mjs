// jobd under a hostile requester and a leaky backend (issue 13): public
// feedback never carries a spoke's internal text (backend addresses, user
// info, wallet bodies), every status text is valid UTF-8 however a cut
// falls, AUTH is signed only for relays jobd asked for, a quote is never
// exceeded, and a payment below the quote runs nothing.
import { finalizeEvent, generateSecretKey, verifyEvent } from 'nostr-tools/pure';
import { feedbackOf, statusOf } from '../lib/fake-spokes.mjs';
import { fakeSpokeRigs, reporter, assert } from '../lib/jobd-rig.mjs';

const F = 'jobd_security.mjs';
const T = reporter(F);
const hard = setTimeout(() => { console.log(`FAIL: ${F}: hard timeout`); process.exit(1); }, 58000);
const { rig, finish } = fakeSpokeRigs('jobd-sec-');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const mk = (tags, sk = generateSecretKey()) => finalizeEvent({ kind: 5050,
  created_at: Math.floor(Date.now() / 1000), tags, content: '' }, sk);
const tag = (e, n) => e.tags.find((t) => t[0] === n);
const errorOf = (s, id, ms = 4000) => s.waitFor(() => feedbackOf(s.relayd.published, id)
  .find((e) => statusOf(e) === 'error'), ms, 'error feedback');
const paid = { wallet: 'lnbits', lnbits_url: 'http://127.0.0.1:1' };

await T.run('7: inferd errors reach the requester as fixed words, never the backend text', async () => {
  const { spokes } = await rig();
  const leaks = [
    ['unknown_model', "model 'llama3.2' not found at http://admin:hunter2@10.1.2.3:11434", 'model not available'],
    ['backend_down', 'Failed to connect to 10.1.2.3 port 11434 after 0 ms: Connection refused', 'inference backend unavailable'],
    ['backend_error', 'HTTP 500 from http://10.1.2.3:8000/v1: {"detail":"internal path /srv/models"}', 'inference backend error'],
    ['timeout_first_byte', 'no byte from http://10.1.2.3:11434 in 300 s', 'inference timed out'],
    ['something_new', 'http://10.1.2.3', 'inference failed'],
  ];
  spokes.inferd.failAlways = true;
  for (const [code, message, want] of leaks) {
    spokes.inferd.fail = { code, message, retryable: false };
    const e = mk([['i', 'leak ' + code, 'text']]);
    spokes.relayd.inject(e);
    const er = await errorOf(spokes, e.id);
    const text = JSON.stringify(er);
    assert(tag(er, 'status')[2] === want, `${code}: '${tag(er, 'status')[2]}'`);
    assert(!/10\.1\.2\.3|hunter2|admin|11434|srv/.test(text), `${code} leaked: ${text}`);
  }
});

await T.run('7: a wallet refusal says "wallet error", not the wallet body', async () => {
  const { spokes } = await rig({ ...paid, payment_mode: 'after' });
  spokes.invoiced.mode = 'refuse';
  const e = mk([['i', 'no wallet', 'text']]);
  spokes.relayd.inject(e);
  const er = await errorOf(spokes, e.id);
  assert(tag(er, 'status')[2] === 'cannot create an invoice (wallet error); the job is closed',
    'text: ' + tag(er, 'status')[2]);
  assert(!/liquidity/.test(JSON.stringify(er)), 'wallet body leaked');
});

await T.run('16: a cut inside a UTF-8 character never drops the status tag', async () => {
  const { spokes, jobd } = await rig();
  // "param max_tokens: \"<32 bytes>\"": the 32nd byte falls inside the euro sign
  const bad = mk([['i', 'x', 'text'], ['param', 'max_tokens', 'a'.repeat(31) + '\u20ac\u20ac']]);
  spokes.relayd.inject(bad);
  const er = await errorOf(spokes, bad.id);
  assert(tag(er, 'status') && tag(er, 'status')[2] === 'param max_tokens: "' + 'a'.repeat(31) + '" is not a number',
    'error: ' + JSON.stringify(er.tags));
  // an unserved model is quoted in the error cut at 48 bytes: the 48th is inside the euro sign
  const model = 'm'.repeat(47) + '\u20ac';
  const unserved = mk([['i', 'y', 'text'], ['param', 'model', model], ['p', jobd.pubkey]]);
  spokes.relayd.inject(unserved);
  const er2 = await errorOf(spokes, unserved.id);
  assert(verifyEvent(er2) && tag(er2, 'status') &&
    tag(er2, 'status')[2].startsWith('model "' + 'm'.repeat(47) + '" is not served here; served: llama3.2'),
    'error: ' + JSON.stringify(er2.tags));
});

await T.run('15: AUTH is signed for configured and asked-for relays only', async () => {
  const { spokes, jobd } = await rig();
  const authFor = (relay) => spokes.relayd.auths.filter((a) => a.relay === relay);
  spokes.relayd.send({ op: 'auth_challenge', relay: 'wss://evil.example', challenge: 'c1' });
  spokes.relayd.send({ op: 'auth_challenge', relay: 'wss://hint.example', challenge: 'c2' });
  await sleep(600);
  assert(spokes.relayd.auths.length === 0, 'signed for a relay nobody asked for: ' + JSON.stringify(spokes.relayd.auths.map((a) => a.relay)));
  assert(/not a relay we asked relayd to use/.test(jobd.stderr()), 'no log line');
  spokes.relayd.send({ op: 'auth_challenge', relay: 'wss://fake.relay', challenge: 'c3' });
  await spokes.waitFor(() => authFor('wss://fake.relay').length === 1, 3000, 'auth for the configured relay');
  // a request's hint: once jobd has sent it to relayd, that relay may ask
  const e = mk([['i', 'hinted', 'text'], ['relays', 'wss://Hint.example/']]);
  spokes.relayd.inject(e);
  await spokes.waitFor(() => spokes.relayd.received.some((m) => m.op === 'publish' && (m.relays || []).length), 4000, 'publish with relays');
  spokes.relayd.send({ op: 'auth_challenge', relay: 'wss://hint.example', challenge: 'c4' });
  const a = await spokes.waitFor(() => authFor('wss://hint.example')[0], 3000, 'auth for the hint');
  assert(verifyEvent(a.event) && tag(a.event, 'challenge')[1] === 'c4', 'auth event');
  spokes.relayd.send({ op: 'auth_challenge', relay: 'wss://evil.example', challenge: 'c5' });
  await sleep(400);
  assert(authFor('wss://evil.example').length === 0, 'signed for evil after all');
});

await T.run('17: pay-after never invoices above the bid, whatever the backend counts', async () => {
  // 1 sat a token; the fake backend reports 10 prompt + 20 completion tokens
  const { spokes } = await rig({ ...paid, payment_mode: 'after', min_price_sats: 1, price_per_1k_tokens: 1000 });
  const e = mk([['i', 'abc', 'text'], ['bid', '8500']]);
  spokes.relayd.inject(e);
  await spokes.waitFor(() => spokes.invoiced.requests.some((m) => m.op === 'invoice' && m.job === e.id), 5000, 'invoice');
  const inv = spokes.invoiced.requests.find((m) => m.op === 'invoice' && m.job === e.id);
  assert(inv.amount_msat <= 8500 && inv.amount_msat === 8000, 'invoiced ' + inv.amount_msat + ' msat for a bid of 8500');
  const infer = spokes.inferd.infers.find((m) => m.job === e.id);
  assert(infer.options.max_tokens === 5, 'max_tokens ' + infer.options.max_tokens + ' (8 sats - 3 bytes of prompt)');
});

await T.run('17: a pay-first quote counts a token per prompt byte (CJK is not under-charged)', async () => {
  const { spokes } = await rig({ ...paid, payment_mode: 'before', min_price_sats: 1, price_per_1k_tokens: 1000, max_tokens: 10 });
  const cjk = '\u4f60\u597d'.repeat(50);	// 100 characters, 300 bytes, up to 300 tokens
  const e = mk([['i', cjk, 'text']]);
  spokes.relayd.inject(e);
  await spokes.waitFor(() => spokes.invoiced.requests.some((m) => m.op === 'invoice' && m.job === e.id), 5000, 'invoice');
  const inv = spokes.invoiced.requests.find((m) => m.op === 'invoice' && m.job === e.id);
  assert(inv.amount_msat === 310000, 'quote ' + inv.amount_msat + ' msat, want (300 + 10) sats');
});

await T.run('also: a payment below the quote runs nothing, is recorded and acked', async () => {
  const { spokes, jobd } = await rig({ ...paid, payment_mode: 'before', min_price_sats: 1, price_per_1k_tokens: 1000, max_tokens: 10 });
  const e = mk([['i', 'short', 'text']]);
  spokes.relayd.inject(e);
  await spokes.waitFor(() => feedbackOf(spokes.relayd.published, e.id).some((x) => statusOf(x) === 'payment-required'), 5000, 'payment-required');
  spokes.invoiced.pay(e.id, -1000);	// a lying or buggy invoiced: 1 sat short
  const er = await errorOf(spokes, e.id);
  assert(tag(er, 'status')[2] === 'payment below the quoted price; the job is closed', 'text ' + tag(er, 'status')[2]);
  await spokes.waitFor(() => spokes.invoiced.acks.includes(e.id), 3000, 'ack');
  await sleep(300);
  assert(!spokes.inferd.infers.some((m) => m.job === e.id), 'inference ran on an under-payment');
  const j = (await jobd.ctl({ op: 'jobs' })).jobs.find((x) => x.id === e.id);
  assert(j.state === 'error' && j.paid_msat === 14000 && j.quote_msat === 15000, 'ledger ' + JSON.stringify(j));
});

clearTimeout(hard);
const bad = await finish();
for (const b of bad) console.log(`FAIL: ${F}: jobd exit: ${b}`);
process.exit(T.failed || bad.length ? 1 : 0);
