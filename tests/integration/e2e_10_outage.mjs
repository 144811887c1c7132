// e2e 10: backends down (issue 8, scenario 10).
//   - The Ollama double stops listening: a (pay-after, so promised) request
//     gets one "waiting for the inference backend" feedback and no error,
//     `dvmctl status --json` shows inference unhealthy; it comes back: status
//     healthy again, the waiting job gets its result with its invoice, and a
//     new request is served (issue 13 point 3).
//   - The LNbits double stops listening in pay-after mode: a request gets
//     `error` feedback and no result while the wallet is down (no free
//     result: any result that shows up later carries an invoice).
import { World, Report, check, eq, sleep, waitFor, startLnbitsDouble } from '../e2e/lib.mjs';

const rep = new Report(import.meta.url, 170000);
const w = new World({ relays: 1, conf: { payment_mode: 'after' } });

// jobd refreshes the spokes' health on its own timer (seconds apart), so
// status is waited for with a generous timeout, in parallel with the
// request that must fail.
const STATUS_MS = 25000;

const WAITING = 'waiting for the inference backend';
const waitings = async (r) => (await w.feedback(r, 'processing')).filter((d) => d.message === WAITING);

async function ollamaDown() {
  await w.ollama.control({ down: true });
  let r;
  try {
    r = await w.request({ prompt: 'asked while ollama is down' });
    await Promise.all([
      w.client.waitAbout(r.id, w.dvm, async () => (await waitings(r))[0], 30000, 'waiting feedback'),
      waitFor(async () => { const s = await w.pipe.ctl('status'); return s.inference && s.inference.ok === false && s.earning === false; },
        STATUS_MS, 'dvmctl status shows inference unhealthy and not earning', 250),
    ]);
    eq((await w.results(r)).length, 0, 'results while inference is down');
    eq((await w.feedback(r, 'error')).length, 0, 'error feedback for a job that waits');
  } finally { await w.ollama.control({ down: false }); }
  const back = await w.waitResult(r, 60000);	// the next try, at most 30 s apart
  eq(back.content, 'Echo: asked while ollama is down', 'the waiting job\'s result');
  check(back.amount > 0 && back.bolt11, 'the waiting job\'s result has no invoice');
  eq((await waitings(r)).length, 1, 'waiting feedback events');
  eq((await w.feedback(r, 'error')).length, 0, 'error feedback for the job that waited');
  const r2 = await w.request({ prompt: 'asked after ollama came back' });
  const [res] = await Promise.all([
    w.waitResult(r2, 20000),
    waitFor(async () => { const x = await w.pipe.ctl('status'); return x.inference.ok && x.inference.model_ok; },
      STATUS_MS, 'dvmctl status shows inference healthy again', 250),
  ]);
  eq(res.content, 'Echo: asked after ollama came back', 'result content');
}

async function walletDown() {
  const { port, apiKey } = w.lnbits;
  await w.lnbits.close();
  const prompt = 'asked while the wallet is down';
  let r;
  try {
    r = await w.request({ prompt });
    // Whichever comes first: error feedback (right) or a result (wrong
    // unless it carries an invoice, which it cannot while the wallet is down).
    const first = w.client.waitAbout(r.id, w.dvm, async () =>
      (await w.decoded(r)).find(d => (d.kind === 7000 && d.status === 'error') || d.kind === 6050),
      40000, 'error feedback (or a result)');
    const [er] = await Promise.all([
      first.then(d => {
        if (d.kind === 6050)
          throw new Error(`a result was published while the wallet was down, ${d.amount && d.bolt11 ? 'with' : 'WITHOUT'} an invoice (a free result), and no error feedback`);
        return d;
      }),
      waitFor(async () => { const s = await w.pipe.ctl('status'); return s.payments && s.payments.ok === false; },
        STATUS_MS, 'dvmctl status shows the wallet down', 250),
    ]);
    check(er.message.length > 0, 'error feedback without a message');
    await sleep(1000);
    eq((await w.results(r)).length, 0, 'results while the wallet is down (a free result)');
  } finally {
    // Back on the same port and key (the old invoices are gone with it).
    w.lnbits = await startLnbitsDouble({ port, apiKey, network: 'regtest' });
  }
  const r2 = await w.request({ prompt: 'asked after the wallet came back' });
  const res = await w.waitResult(r2, 20000);
  check(res.amount > 0 && res.bolt11, 'result after the wallet came back has no invoice');
  for (const x of await w.results(r)) check(x.amount > 0 && x.bolt11, 'a result without an invoice for the wallet-down job');
}

try {
  await w.start();
  await rep.run('10 ollama down: a promised job waits (one waiting feedback), status inference unhealthy; back up: it and a new one are served', ollamaDown, 110000);
  await rep.run('10 wallet down in pay-after: error feedback, no free result', walletDown, 60000);
  await rep.run('every event received verifies (id, signature)', async () =>
    eq(w.client.bad.length, 0, 'events failing verification'), 1000);
} catch (e) {
  rep.fail('setup', e.message);
} finally {
  await w.stopAll(rep).catch(e => rep.fail('teardown', e.message));
  rep.done();
}
