// relayd dials a relay outside its config (a requester's hint, passed on by
// jobd) only at a public address: a literal private address and a name
// that resolves to one (localhost here, as a public name with a private A
// record would) are refused; configured relays on 127.0.0.1 stay allowed,
// and relay_allow_private = yes lifts the rule.
import { startHostileRelay } from '../lib/hostile-relay.mjs';
import { reporter, assert, sleep, startRelayd, assertClean, makeEvent,
  generateSecretKey, hardTimeout } from '../lib/relayd-harness.mjs';

const F = 'relayd_private.mjs';
hardTimeout(40000, F);
const t = reporter(F);
const sk = generateSecretKey();
const quiet = { junkOnConnect: false, junkOnReq: false };

const ours = await startHostileRelay({ ...quiet });
const hint = await startHostileRelay({ ...quiet });
const got = (h, id) => h.received.some(m => m.msg[0] === 'EVENT' && m.msg[1].id === id);
let rd = startRelayd([ours.url], []);

try {
  await rd.waitFor(o => o.op === 'relay' && o.url === ours.url && o.state === 'connected', 8000, 'configured relay connected');

  await t.run('configured_127_relay_still_used', async () => {
    const ev = makeEvent(sk, { kind: 6050, content: 'to ours' });
    rd.send({ op: 'publish', event: ev });
    const ok = await rd.waitFor(o => o.op === 'ok' && o.id === ev.id && o.relay === ours.url, 5000, 'ok');
    assert(ok.accepted === true, JSON.stringify(ok));
  });

  await t.run('hint_at_private_literal_not_dialled', async () => {
    const ev = makeEvent(sk, { kind: 6050, content: 'to a literal hint' });
    rd.send({ op: 'publish', event: ev, relays: [hint.url] });
    await rd.waitFor(o => o.op === 'ok' && o.id === ev.id && o.relay === ours.url, 5000, 'ok from ours');
    await sleep(1500);
    assert(!got(hint, ev.id) && hint.clientCount() === 0, 'private literal was dialled');
    assert(/private address/.test(rd.stderr()), 'no log line: ' + rd.stderr().slice(-300));
  });

  await t.run('hint_name_resolving_private_not_dialled', async () => {
    const url = hint.url.replace('127.0.0.1', 'localhost');
    const ev = makeEvent(sk, { kind: 6050, content: 'to a name hint' });
    rd.send({ op: 'publish', event: ev, relays: [url] });
    await rd.waitFor(o => o.op === 'ok' && o.id === ev.id && o.relay === ours.url, 5000, 'ok from ours');
    await sleep(1500);
    assert(!got(hint, ev.id) && hint.clientCount() === 0, 'a name resolving to 127.0.0.1 was dialled');
    assert(/resolves only to private addresses/.test(rd.stderr()), 'no log line: ' + rd.stderr().slice(-300));
  });

  await t.run('fetch_hint_private_not_dialled', async () => {
    rd.send({ op: 'fetch', id: 'p1', filters: [{ kinds: [1] }], relays: [hint.url], timeout_ms: 2000 });
    await rd.waitFor(o => o.op === 'eose' && o.sub === 'p1' && !o.relay, 6000, 'fetch eose');
    assert(!hint.received.some(m => m.msg[0] === 'REQ'), 'REQ reached the private hint');
  });

  await t.run('relay_allow_private_lifts_the_rule', async () => {
    assertClean(await rd.stop(), rd.stderr());
    rd = startRelayd([ours.url], [], { DVM_RELAY_ALLOW_PRIVATE: 'yes' });
    await rd.waitFor(o => o.op === 'relay' && o.url === ours.url && o.state === 'connected', 8000, 'connected');
    const ev = makeEvent(sk, { kind: 6050, content: 'allowed now' });
    rd.send({ op: 'publish', event: ev, relays: [hint.url] });
    const ok = await rd.waitFor(o => o.op === 'ok' && o.id === ev.id && o.relay === hint.url, 8000, 'ok from hint');
    assert(ok.accepted === true && got(hint, ev.id), JSON.stringify(ok));
  });

  await t.run('clean_exit', async () => assertClean(await rd.stop(), rd.stderr()));
} finally {
  rd.proc.kill('SIGKILL');
  await ours.close();
  await hint.close();
}
process.exit(t.failed ? 1 : 0);
