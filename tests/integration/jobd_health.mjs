// jobd's view of its spokes for dvmctl status (jobd/spoke.c), against the
// fake spokes: a spoke that reports trouble (no inference backend with the
// model, the wallet down, a relay not connected) is asked again every 2 s,
// so a recovery shows in `status` within seconds, not at the next 15 s
// tick; healthy spokes are not asked again before that tick; a question
// still unanswered (invoiced's wallet request in flight) is never asked a
// second time, and status says it is waiting rather than disconnected.
import { fakeSpokeRigs, reporter, assert } from '../lib/jobd-rig.mjs';

const T = reporter('jobd_health.mjs');
const hard = setTimeout(() => { console.log('FAIL: jobd_health.mjs: hard timeout'); process.exit(1); }, 50000);
const { rig, finish } = fakeSpokeRigs('jobd-health-');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


const lnbits = { wallet: 'lnbits', lnbits_url: 'http://127.0.0.1:1' };
let A;

await T.run('spokes in trouble: status shows it; their recovery shows within seconds, well before the 15 s tick', async () => {
  A = await rig(lnbits, { inferHealthy: false, invoiceHealth: 'down', relayState: 'connecting' });
  const { jobd, spokes } = A;
  const down = await spokes.waitFor(async () => {
    const s = await jobd.ctl({ op: 'status' });
    return s.spokes.inferd && s.spokes.invoiced && s.relays.total === 1 && s.inference.backends.length === 1 &&
      s.payments.error ? s : null;
  }, 5000, 'first health answers');
  assert(!down.inference.ok && !down.payments.ok && down.relays.connected === 0 && !down.earning,
    'troubled status ' + JSON.stringify(down));
  assert(/wallet_down/.test(down.payments.error), 'wallet error ' + down.payments.error);
  await sleep(3500);	// asked again while in trouble (every 2 s)
  assert(spokes.inferd.healthAsks >= 2 && spokes.invoiced.healthAsks >= 2 && spokes.relayd.healthAsks >= 2,
    `re-asked ${spokes.relayd.healthAsks} ${spokes.inferd.healthAsks} ${spokes.invoiced.healthAsks}`);
  spokes.inferd.healthy = true;
  spokes.invoiced.health = 'ok';
  spokes.relayd.relayState = 'connected';
  const t0 = Date.now();
  const up = await spokes.waitFor(async () => {
    const s = await jobd.ctl({ op: 'status' });
    return s.earning ? s : null;
  }, 8000, 'status to show the recovery (the 15 s tick is later than this wait)');
  assert(up.inference.ok && up.inference.model_ok && up.payments.ok && up.relays.connected === 1,
    'recovered status ' + JSON.stringify(up));
  assert(Date.now() - t0 < 8000, 'slow');
});

await T.run('healthy spokes are not asked again every 2 s, only at the 15 s tick', async () => {
  const { spokes } = A;
  await sleep(2200);	// a question in flight when the last test ended has been answered
  const before = [spokes.relayd.healthAsks, spokes.inferd.healthAsks, spokes.invoiced.healthAsks];
  await sleep(6500);
  const after = [spokes.relayd.healthAsks, spokes.inferd.healthAsks, spokes.invoiced.healthAsks];
  // At most one more each: the 15 s tick may fall in this window; asking
  // every 2 s would be three.
  assert(after.every((n, i) => n - before[i] <= 1), `asked ${before} -> ${after}`);
});

await T.run('an unanswered wallet health is not asked twice; status says it is waiting', async () => {
  const { jobd, spokes } = await rig(lnbits, { invoiceHealth: 'silent' });
  await sleep(6500);
  assert(spokes.invoiced.healthAsks === 1, `invoiced asked ${spokes.invoiced.healthAsks} times`);
  const s = await jobd.ctl({ op: 'status' });
  assert(s.spokes.invoiced && !s.payments.ok && /waiting for invoiced/.test(s.payments.error),
    'payments ' + JSON.stringify(s.payments));
  spokes.invoiced.health = 'ok';
});

const badExits = await finish();
await T.run('every jobd exited 0 on SIGTERM (no leaks under ASan)', async () => assert(badExits.length === 0, badExits.join('; ')));
clearTimeout(hard);
process.exit(T.failed ? 1 : 0);
