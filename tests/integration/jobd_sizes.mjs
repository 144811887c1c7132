// jobd's size bounds against the fake spokes (issue 13 point 6): every
// event it publishes fits max_event_bytes (default 65536, what common
// relays take), a request over max_request_bytes gets an error, and a
// result that would be too big loses its request tag, then its i tags,
// then is cut on a UTF-8 boundary, and its success feedback says so.
import { finalizeEvent, generateSecretKey, getPublicKey, verifyEvent } from 'nostr-tools/pure';
import { feedbackOf, statusOf } from '../lib/fake-spokes.mjs';
import { fakeSpokeRigs, reporter, assert } from '../lib/jobd-rig.mjs';

const T = reporter('jobd_sizes.mjs');
const hard = setTimeout(() => { console.log('FAIL: jobd_sizes.mjs: hard timeout'); process.exit(1); }, 50000);
const { rig, finish } = fakeSpokeRigs('jobd-sizes-');

const user = generateSecretKey();
const mk = (tags, content = '') => finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags, content }, user);
const resultOf = (pub, id) => pub.find((e) => e.kind === 6050 && e.tags.some((t) => t[0] === 'e' && t[1] === id));
const tag = (e, n) => e.tags.find((t) => t[0] === n);
const bytes = (e) => Buffer.byteLength(JSON.stringify(e));
const statusText = (s, id, st) => s.waitFor(() => {
  const e = feedbackOf(s.relayd.published, id).find((f) => statusOf(f) === st);
  return e && tag(e, 'status')[2];
}, 5000, st + ' feedback');

await T.run('a 200 KiB request gets a result within 65536 bytes: no request or i tag, the answer cut, the feedback says so', async () => {
  const { spokes } = await rig({ max_prompt_bytes: 524288, max_request_bytes: 300000 });
  const prompt = 'ab\u00e9"\n'.repeat(25700);
  const req = mk([['i', prompt, 'text']]);
  assert(bytes(req) > 200 * 1024, 'request of ' + bytes(req));
  spokes.relayd.inject(req);
  const res = await spokes.waitFor(() => resultOf(spokes.relayd.published, req.id), 10000, 'result');
  assert(bytes(res) <= 65536, 'result of ' + bytes(res) + ' bytes');
  assert(verifyEvent(res), 'the result parses and verifies with nostr-tools');
  assert(!tag(res, 'request') && !tag(res, 'i'), 'tags ' + JSON.stringify(res.tags).slice(0, 200));
  assert(tag(res, 'e')[1] === req.id && tag(res, 'p')[1] === getPublicKey(user), 'e and p kept');
  const full = 'echo: ' + prompt;
  assert(res.content.length > 1000 && full.startsWith(res.content) && !/[\ud800-\udbff]$/.test(res.content), 'a prefix of the answer, ' + res.content.length + ' chars');
  assert(/cut to fit in one event/.test(await statusText(spokes, req.id, 'success')), 'success says it was cut');
  for (const e of spokes.relayd.published) assert(bytes(e) <= 65536, `kind ${e.kind} of ${bytes(e)} bytes`);
});

await T.run('a 40 KB request with a short answer keeps its i tag and answer, and drops only the request tag', async () => {
  const { spokes } = await rig({}, { answer: () => 'short answer' });
  const req = mk([['i', 'q'.repeat(15000), 'text']]);
  spokes.relayd.inject(req);
  const res = await spokes.waitFor(() => resultOf(spokes.relayd.published, req.id), 5000, 'result');
  assert(bytes(res) <= 65536 && res.content === 'short answer', 'content ' + res.content.slice(0, 40));
  assert(tag(res, 'i') && tag(res, 'i')[1].length === 15000, 'i tag kept');
  assert(!tag(res, 'request') || bytes(res) <= 65536, 'request tag only when it fits');
  assert(/^done \(/.test(await statusText(spokes, req.id, 'success')), 'plain success');
});

await T.run('a request over max_request_bytes gets an error naming the bound and is not run', async () => {
  const { spokes } = await rig({ max_prompt_bytes: 100000, max_request_bytes: 20000 });
  const req = mk([['i', 'z'.repeat(30000), 'text']]);
  spokes.relayd.inject(req);
  const why = await statusText(spokes, req.id, 'error');
  assert(/^request too large: \d+ bytes \(at most 20000\)$/.test(why), 'error: ' + why);
  assert(!spokes.inferd.infers.some((m) => m.job === req.id), 'not inferred');
});

await T.run('partial feedback fits max_event_bytes too', async () => {
  const { spokes } = await rig({ partial_results: 'yes', partial_interval_ms: 50, max_event_bytes: 8192 },
    { answer: () => '\u4f60'.repeat(20000), chunks: true });
  const req = mk([['i', 'long', 'text']]);
  spokes.relayd.inject(req);
  await spokes.waitFor(() => resultOf(spokes.relayd.published, req.id), 10000, 'result');
  const mine = spokes.relayd.published.filter((e) => e.tags.some((t) => t[0] === 'e' && t[1] === req.id));
  assert(mine.some((e) => statusOf(e) === 'partial'), 'some partial sent');
  for (const e of mine) assert(bytes(e) <= 8192, `kind ${e.kind} ${statusOf(e)} of ${bytes(e)} bytes`);
});

const badExits = await finish();
await T.run('every jobd exited 0 on SIGTERM (no leaks under ASan)', async () => assert(badExits.length === 0, badExits.join('; ')));
clearTimeout(hard);
process.exit(T.failed ? 1 : 0);
