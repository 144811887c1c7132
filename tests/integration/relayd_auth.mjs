// NIP-42 through relayd against a real relay that requires AUTH: the
// challenge reaches jobd's side as auth_challenge; REQ and EVENT refused with
// auth-required: are reported (closed; ok final:false); after `auth` with a
// signed kind-22242 relayd sends AUTH, reports the relay's OK, and re-sends
// the refused REQ and EVENT, which then succeed.
import { startRelay } from '../lib/relay.mjs';
import { finalizeEvent } from 'nostr-tools/pure';
import { reporter, assert, startRelayd, assertClean, makeEvent,
  generateSecretKey, hardTimeout } from '../lib/relayd-harness.mjs';

const F = 'relayd_auth.mjs';
hardTimeout(55000, F);
const t = reporter(F);
const sk = generateSecretKey();
const r = await startRelay({ requireAuth: true });
const rd = startRelayd([r.url]);
let challenge, ev;

try {
  await t.run('challenge_forwarded', async () => {
    const c = await rd.waitFor(o => o.op === 'auth_challenge', 8000, 'auth_challenge');
    assert(c.relay === r.url && typeof c.challenge === 'string' && c.challenge.length > 0, JSON.stringify(c));
    challenge = c.challenge;
  });

  await t.run('refusals_reported', async () => {
    rd.send({ op: 'subscribe', id: 'jobs', filters: [{ kinds: [5050] }] });
    const cl = await rd.waitFor(o => o.op === 'closed' && o.sub === 'jobs', 5000, 'closed');
    assert(cl.relay === r.url && cl.message.startsWith('auth-required:'), JSON.stringify(cl));
    ev = makeEvent(sk, { kind: 6050, content: 'needs auth' });
    rd.send({ op: 'publish', event: ev });
    const ok = await rd.waitFor(o => o.op === 'ok' && o.id === ev.id, 5000, 'ok');
    assert(ok.accepted === false && ok.final === false && ok.message.startsWith('auth-required:'),
      JSON.stringify(ok));
  });

  await t.run('auth_then_resent', async () => {
    const auth = finalizeEvent({ kind: 22242, created_at: Math.floor(Date.now() / 1000),
      tags: [['relay', r.url], ['challenge', challenge]], content: '' }, sk);
    rd.send({ op: 'auth', relay: r.url, event: auth });
    const aok = await rd.waitFor(o => o.op === 'ok' && o.id === auth.id, 5000, 'AUTH ok');
    assert(aok.accepted === true, 'AUTH refused: ' + aok.message);
    const ok = await rd.waitFor(o => o.op === 'ok' && o.id === ev.id && o.final === true, 5000, 'publish ok after auth');
    assert(ok.accepted === true, JSON.stringify(ok));
    await rd.waitFor(o => o.op === 'eose' && o.sub === 'jobs', 5000, 'eose after re-REQ');
    const live = makeEvent(sk, { kind: 5050, content: 'after auth' });
    await r.store(live);
    const got = await rd.waitFor(o => o.op === 'event' && o.event.id === live.id, 5000, 'live event');
    assert(got.sub === 'jobs', 'wrong sub');
  });

  await t.run('clean_exit', async () => {
    assertClean(await rd.stop(), rd.stderr());
  });
} finally {
  if (rd.proc.exitCode === null) rd.proc.kill('SIGKILL');
  await r.close();
}
process.exit(t.failed ? 1 : 0);
