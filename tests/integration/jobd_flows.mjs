// jobd end to end against the fake spokes (tests/lib/fake-spokes.mjs):
// free, pay-after and pay-first flows, bid handling, busy, cancellation,
// NIP-04 and NIP-44 requests answered in kind, spam that gets nothing.
import { finalizeEvent, generateSecretKey, getPublicKey, verifyEvent } from 'nostr-tools/pure';
import * as nip04 from 'nostr-tools/nip04';
import * as nip44 from 'nostr-tools/nip44';
import { feedbackOf, statusOf } from '../lib/fake-spokes.mjs';
import { fakeSpokeRigs, reporter, assert } from '../lib/jobd-rig.mjs';

const T = reporter('jobd_flows.mjs');
const hard = setTimeout(() => { console.log('FAIL: jobd_flows.mjs: hard timeout'); process.exit(1); }, 55000);
const { rig, finish } = fakeSpokeRigs('jobd-flows-');


const user = generateSecretKey();
const userPk = getPublicKey(user);
function request(tags, { sk = user, content = '', kind = 5050, created_at } = {}) {
  return finalizeEvent({ kind, created_at: created_at ?? Math.floor(Date.now() / 1000), tags, content }, sk);
}
const resultOf = (pub, id) => pub.find((e) => e.kind === 6050 && e.tags.some((t) => t[0] === 'e' && t[1] === id));
const tag = (ev, name) => ev.tags.find((t) => t[0] === name);

await T.run('free: plain request gets processing, a 6050 result with request/e/p/i tags and success', async () => {
  const { spokes, jobd } = await rig();
  const req = request([['i', 'hello there', 'text'], ['param', 'max_tokens', '99999'], ['p', jobd.pubkey]]);
  spokes.relayd.inject(req, { relay: 'wss://seen.here' });
  const res = await spokes.waitFor(() => resultOf(spokes.relayd.published, req.id), 5000, 'result');
  assert(verifyEvent(res), 'result signature');
  assert(res.pubkey === jobd.pubkey, 'signed by the provider');
  assert(res.content === 'echo: hello there', 'content: ' + res.content);
  assert(JSON.parse(tag(res, 'request')[1]).id === req.id, 'request tag');
  assert(tag(res, 'e')[1] === req.id && tag(res, 'e')[2] === 'wss://seen.here', 'e tag with relay hint');
  assert(tag(res, 'p')[1] === userPk, 'p tag');
  assert(tag(res, 'i')[1] === 'hello there', 'i tag copied');
  assert(!tag(res, 'amount'), 'no amount in free mode');
  const inf = spokes.inferd.infers.find((m) => m.job === req.id);
  assert(inf.options.max_tokens === 512, 'max_tokens clamped to the config maximum: ' + inf.options.max_tokens);
  await spokes.waitFor(() => feedbackOf(spokes.relayd.published, req.id).some((e) => statusOf(e) === 'success'), 3000, 'success');
  const fb = feedbackOf(spokes.relayd.published, req.id).map(statusOf);
  assert(fb[0] === 'processing', 'processing first: ' + fb);
  const jobs = await jobd.ctl({ op: 'jobs' });
  await spokes.waitFor(async () => true);
  const j = jobs.jobs.find((x) => x.id === req.id);
  assert(j && (j.state === 'acked' || j.state === 'published'), 'ledger state ' + (j && j.state));
});

await T.run('pay-after: result carries amount (price from real token counts) and bolt11; paid is acked', async () => {
  const { spokes, jobd } = await rig({ wallet: 'lnbits', lnbits_url: 'http://127.0.0.1:1', payment_mode: 'after', min_price_sats: 3, price_per_1k_tokens: 100 });
  const req = request([['i', 'price me', 'text']]);
  spokes.relayd.inject(req);
  const res = await spokes.waitFor(() => resultOf(spokes.relayd.published, req.id), 5000, 'result');
  // 10 + 20 tokens at 100 sats/1k = 3 sats = 3000 msat (ceil(30*100/1000) = 3)
  const amt = tag(res, 'amount');
  assert(amt && amt[1] === '3000', 'amount ' + JSON.stringify(amt));
  assert(amt[2] === spokes.invoiced.invoices.get(req.id).bolt11, 'bolt11 in amount tag');
  const invReq = spokes.invoiced.requests.filter((m) => m.op === 'invoice' && m.job === req.id);
  assert(invReq.length === 1 && invReq[0].amount_msat === 3000, 'one invoice of 3000 msat');
  spokes.invoiced.pay(req.id);
  await spokes.waitFor(() => spokes.invoiced.acks.includes(req.id), 4000, 'ack');
  const j = (await jobd.ctl({ op: 'jobs' })).jobs.find((x) => x.id === req.id);
  assert(j.paid === true && j.paid_msat === 3000 && j.price_msat === 3000, 'jobs shows paid: ' + JSON.stringify(j));
  const st = await jobd.ctl({ op: 'stats' });
  assert(st.sats_invoiced === 3 && st.sats_received === 3, 'stats sats ' + JSON.stringify(st));
});

await T.run('pay-first: payment-required with amount+bolt11, no inference before paid, then result', async () => {
  const { spokes } = await rig({ wallet: 'lnbits', lnbits_url: 'http://127.0.0.1:1', payment_mode: 'before', min_price_sats: 1, price_per_1k_tokens: 10, max_tokens: 100 });
  const req = request([['i', 'abcdef', 'text']]);	// 6 bytes -> 2 tokens estimated
  spokes.relayd.inject(req);
  const pr = await spokes.waitFor(() => feedbackOf(spokes.relayd.published, req.id).find((e) => statusOf(e) === 'payment-required'), 5000, 'payment-required');
  // quote = ceil((2 + 100) * 10 / 1000) = 2 sats
  const amt = tag(pr, 'amount');
  assert(amt[1] === '2000' && amt[2].startsWith('lnbcrt2000'), 'amount ' + JSON.stringify(amt));
  await new Promise((r) => setTimeout(r, 300));
  assert(spokes.inferd.infers.length === 0, 'no inference before payment');
  spokes.invoiced.pay(req.id);
  const res = await spokes.waitFor(() => resultOf(spokes.relayd.published, req.id), 5000, 'result');
  assert(tag(res, 'amount')[1] === '2000', 'result amount');
  assert(spokes.invoiced.acks.includes(req.id), 'paid acked');
  assert(spokes.invoiced.requests.filter((m) => m.op === 'invoice').length === 1, 'one invoice');
});

await T.run('pay-first: bid below the quote gets an error with the price, no invoice', async () => {
  const { spokes } = await rig({ wallet: 'lnbits', lnbits_url: 'http://127.0.0.1:1', payment_mode: 'before', min_price_sats: 5 });
  const req = request([['i', 'cheap', 'text'], ['bid', '1000']]);
  spokes.relayd.inject(req);
  const err = await spokes.waitFor(() => feedbackOf(spokes.relayd.published, req.id).find((e) => statusOf(e) === 'error'), 5000, 'error');
  assert(/below the price: 5 sats/.test(tag(err, 'status')[2]), 'message: ' + tag(err, 'status')[2]);
  assert(spokes.invoiced.requests.filter((m) => m.op === 'invoice').length === 0, 'no invoice');
});

await T.run('pay-first: expired invoice closes the job with an error', async () => {
  const { spokes, jobd } = await rig({ wallet: 'lnbits', lnbits_url: 'http://127.0.0.1:1', payment_mode: 'before' });
  const req = request([['i', 'never paid', 'text']]);
  spokes.relayd.inject(req);
  await spokes.waitFor(() => spokes.invoiced.invoices.has(req.id), 5000, 'invoice');
  await spokes.waitFor(() => feedbackOf(spokes.relayd.published, req.id).length > 0, 3000, 'payment-required');
  spokes.invoiced.expire(req.id);
  const err = await spokes.waitFor(() => feedbackOf(spokes.relayd.published, req.id).find((e) => statusOf(e) === 'error'), 5000, 'error');
  assert(/expired/.test(tag(err, 'status')[2]), 'expired message');
  const j = (await jobd.ctl({ op: 'jobs' })).jobs.find((x) => x.id === req.id);
  assert(j.state === 'expired', 'state ' + j.state);
});

await T.run('busy: a full queue answers "busy, retry later"', async () => {
  const { spokes } = await rig({ max_concurrent_jobs: 1, max_queue: 1 }, { inferHold: true });
  const a = request([['i', 'one', 'text']]), b = request([['i', 'two', 'text']]), c = request([['i', 'three', 'text']]);
  spokes.relayd.inject(a);
  await spokes.waitFor(() => spokes.inferd.infers.length === 1, 3000, 'first infer');
  spokes.relayd.inject(b);
  await new Promise((r) => setTimeout(r, 200));
  spokes.relayd.inject(c);
  const err = await spokes.waitFor(() => feedbackOf(spokes.relayd.published, c.id).find((e) => statusOf(e) === 'error'), 3000, 'busy');
  assert(tag(err, 'status')[2] === 'busy, retry later', 'busy message');
  assert(spokes.inferd.infers.length === 1, 'second job waits in the queue');
  spokes.inferd.releaseAll();
  await spokes.waitFor(() => spokes.inferd.infers.some((m) => m.job === b.id), 3000, 'queued job runs after');
  spokes.inferd.releaseAll();
  await spokes.waitFor(() => resultOf(spokes.relayd.published, b.id), 3000, 'second result');
});

await T.run('cancellation: kind-5 from the requester cancels a running job; from someone else it does not', async () => {
  const { spokes, jobd } = await rig({}, { inferHold: true });
  await new Promise((r) => setTimeout(r, 600));	// well after the subscriptions made at connect
  const req = request([['i', 'long job', 'text']]);
  spokes.relayd.inject(req);
  await spokes.waitFor(() => spokes.inferd.infers.length === 1, 3000, 'infer');
  await spokes.waitFor(() => spokes.relayd.subscriptions.get('cancel'), 3000, 'cancel subscription');
  const f = spokes.relayd.subscriptions.get('cancel')[0];
  assert(f.kinds[0] === 5 && f['#e'].includes(req.id), 'cancel filter ' + JSON.stringify(f));
  const other = generateSecretKey();
  spokes.relayd.inject(finalizeEvent({ kind: 5, created_at: Math.floor(Date.now() / 1000), tags: [['e', req.id]], content: '' }, other), { sub: 'cancel' });
  await new Promise((r) => setTimeout(r, 200));
  assert(spokes.inferd.cancels.length === 0, 'stranger cannot cancel');
  spokes.relayd.inject(finalizeEvent({ kind: 5, created_at: Math.floor(Date.now() / 1000), tags: [['e', req.id]], content: '' }, user), { sub: 'cancel' });
  await spokes.waitFor(() => spokes.inferd.cancels.includes(req.id), 3000, 'inferd cancel');
  const j = (await jobd.ctl({ op: 'jobs' })).jobs.find((x) => x.id === req.id);
  assert(j.state === 'cancelled', 'state ' + j.state);
  assert(!resultOf(spokes.relayd.published, req.id), 'no result');
});

for (const scheme of ['nip04', 'nip44']) {
  await T.run(`encrypted ${scheme}: answered in kind (result and feedback), no clear i/request tags`, async () => {
    const { spokes, jobd } = await rig();
    const inner = JSON.stringify([['i', 'secret question', 'text'], ["param", "model", "default"]]);
    const content = scheme === 'nip04' ? nip04.encrypt(user, jobd.pubkey, inner)
      : nip44.encrypt(inner, nip44.getConversationKey(user, jobd.pubkey));
    const req = request([['p', jobd.pubkey], ['encrypted']], { content });
    spokes.relayd.inject(req);
    const res = await spokes.waitFor(() => resultOf(spokes.relayd.published, req.id), 5000, 'result');
    const dec = (s) => scheme === 'nip04' ? nip04.decrypt(user, jobd.pubkey, s)
      : nip44.decrypt(s, nip44.getConversationKey(user, jobd.pubkey));
    if (scheme === 'nip04') assert(res.content.includes('?iv='), 'nip04 shape');
    else assert(!res.content.includes('?iv=') && Buffer.from(res.content, 'base64')[0] === 2, 'nip44 v2 payload');
    assert(dec(res.content) === 'echo: secret question', 'decrypted result');
    assert(tag(res, 'encrypted') && !tag(res, 'i') && !tag(res, 'request'), 'tags ' + JSON.stringify(res.tags));
    const fb = feedbackOf(spokes.relayd.published, req.id);
    assert(fb.length >= 1 && fb.every((e) => tag(e, 'encrypted') && !tag(e, 'status')), 'feedback encrypted');
    const inner0 = JSON.parse(dec(fb[0].content));
    assert(inner0[0][0] === 'status' && inner0[0][1] === 'processing' && /processing with model llama3.2/.test(inner0[0][2]), 'inner status: ' + JSON.stringify(inner0));
  });
}

await T.run('nip44: a result over max_event_bytes is cut at a UTF-8 boundary and the status says so', async () => {
  const { spokes, jobd } = await rig({}, { answer: () => 'é'.repeat(40000) });	// 80000 bytes
  const inner = JSON.stringify([['i', 'long please', 'text']]);
  const ck = nip44.getConversationKey(user, jobd.pubkey);
  const req = request([['p', jobd.pubkey], ['encrypted']], { content: nip44.encrypt(inner, ck) });
  spokes.relayd.inject(req);
  const res = await spokes.waitFor(() => resultOf(spokes.relayd.published, req.id), 5000, 'result');
  const text = nip44.decrypt(res.content, ck);
  assert(Buffer.byteLength(JSON.stringify(res)) <= 65536, 'event of ' + Buffer.byteLength(JSON.stringify(res)) + ' bytes');
  assert(text.length > 1000 && text === 'é'.repeat(text.length), 'cut to ' + Buffer.byteLength(text));
  const ok = await spokes.waitFor(() => feedbackOf(spokes.relayd.published, req.id).map((e) => JSON.parse(nip44.decrypt(e.content, ck))).find((t) => t[0][1] === 'success'), 3000, 'success');
  assert(/cut to fit in one event/.test(ok[0][2]), 'status ' + ok[0][2]);
});

await T.run('spam: bad signature, not for us, stale, wrong kind get nothing; duplicates make one job', async () => {
  const { spokes, jobd } = await rig();
  const good = request([['i', 'dup', 'text']]);
  const bad = { ...request([['i', 'forged', 'text']]) };
  bad.sig = bad.sig.slice(0, -2) + (bad.sig.endsWith('00') ? '11' : '00');
  const notus = request([['i', 'elsewhere', 'text'], ['p', getPublicKey(generateSecretKey())]]);
  const stale = request([['i', 'old', 'text']], { created_at: Math.floor(Date.now() / 1000) - 3600 });
  const kind = request([['i', 'k', 'text']], { kind: 5100 });
  for (const e of [bad, notus, stale, kind]) spokes.relayd.inject(e);
  spokes.relayd.inject(good, { relay: 'wss://one' });
  spokes.relayd.inject(good, { relay: 'wss://two' });
  await spokes.waitFor(() => resultOf(spokes.relayd.published, good.id), 5000, 'result');
  await new Promise((r) => setTimeout(r, 200));
  for (const e of [bad, notus, stale, kind])
    assert(feedbackOf(spokes.relayd.published, e.id).length === 0, 'no answer to spam');
  assert(spokes.inferd.infers.length === 1, 'one job only: ' + spokes.inferd.infers.length);
  const st = await jobd.ctl({ op: 'stats' });
  const rj = st.rejections;
  assert(rj.bad_signature === 1 && rj.not_for_us === 1 && rj.stale === 1 && rj.kind === 1 && rj.duplicate === 1, 'rejections ' + JSON.stringify(rj));
  assert(st.events_seen === 6 && st.events_verified === 1, 'events ' + st.events_seen + '/' + st.events_verified);
});

await T.run('invalid but ours: unsupported input type and bad param get an error with the reason', async () => {
  const { spokes } = await rig();
  const a = request([['i', 'https://x', 'url']]);
  const b = request([['i', 'q', 'text'], ['param', 'temperature', 'hot']]);
  const c = request([['param', 'max_tokens', '5']]);
  for (const e of [a, b, c]) spokes.relayd.inject(e);
  const msg = async (e) => tag(await spokes.waitFor(() => feedbackOf(spokes.relayd.published, e.id).find((x) => statusOf(x) === 'error'), 3000, 'error'), 'status')[2];
  assert(/input type "url" is not supported/.test(await msg(a)), 'url input');
  assert(/temperature.*not a number/.test(await msg(b)), 'bad param');
  assert(/no input/.test(await msg(c)), 'no input');
});

await T.run('event and job inputs are resolved through relayd fetch; a missing one is a clear error', async () => {
  const { spokes } = await rig();
  const note = finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: 'a note to summarise' }, user);
  spokes.relayd.store.push(note);
  const req = request([['i', 'Summarise:', 'text'], ['i', note.id, 'event', 'wss://hint.example']]);
  spokes.relayd.inject(req);
  const res = await spokes.waitFor(() => resultOf(spokes.relayd.published, req.id), 5000, 'result');
  assert(res.content === 'echo: Summarise:\n\na note to summarise', 'joined input: ' + JSON.stringify(res.content));
  assert(spokes.relayd.fetches[0].relays[0] === 'wss://hint.example', 'hint relay asked');
  const chained = request([['i', req.id, 'job']]);
  spokes.relayd.inject(chained);
  const res2 = await spokes.waitFor(() => resultOf(spokes.relayd.published, chained.id), 5000, 'chained result');
  assert(res2.content === 'echo: echo: Summarise:\n\na note to summarise', 'job input: ' + res2.content);
  const missing = request([['i', 'f'.repeat(64), 'event']]);
  spokes.relayd.inject(missing);
  const err = await spokes.waitFor(() => feedbackOf(spokes.relayd.published, missing.id).find((x) => statusOf(x) === 'error'), 5000, 'error');
  assert(/not found/.test(tag(err, 'status')[2]), 'missing message');
});

await T.run('online/offline via control: unsubscribes, persisted across restart; NIP-89 announcement on online', async () => {
  const { spokes, jobd } = await rig();
  const ann = spokes.relayd.published.find((e) => e.kind === 31990);
  assert(ann && tag(ann, 'd')[1] === 'sellcompute' && tag(ann, 'k')[1] === '5050', 'announcement tags');
  const c = JSON.parse(ann.content);
  assert(c.encryption.includes('nip44') && c.name, 'announcement content');
  let r = await jobd.ctl({ op: 'offline' });
  assert(r.op === 'ok' && r.online === false, 'offline answer');
  await spokes.waitFor(() => !spokes.relayd.subscriptions.has('jobs'), 3000, 'unsubscribe');
  const st = await jobd.ctl({ op: 'status' });
  assert(st.online === false && st.spokes.relayd === true && st.npub.startsWith('npub1'), 'status ' + JSON.stringify(st));
  r = await jobd.ctl({ op: 'bogus' });
  assert(r.op === 'error', 'unknown op is an error');
});

await T.run('NIP-42: auth_challenge is answered with a signed kind-22242', async () => {
  const { spokes, jobd } = await rig();
  spokes.relayd.send({ op: 'auth_challenge', relay: 'wss://fake.relay', challenge: 'abc123' });
  const a = await spokes.waitFor(() => spokes.relayd.auths[0], 3000, 'auth');
  assert(a.relay === 'wss://fake.relay' && a.event.kind === 22242 && verifyEvent(a.event), 'auth event');
  assert(a.event.pubkey === jobd.pubkey && tag(a.event, 'challenge')[1] === 'abc123' && tag(a.event, 'relay')[1] === 'wss://fake.relay', 'auth tags');
});

const badExits = await finish();
await T.run('every jobd exited 0 on SIGTERM (no leaks under ASan)', async () => {
  assert(badExits.length === 0, badExits.join('; '));
});
clearTimeout(hard);
process.exit(T.failed ? 1 : 0);
