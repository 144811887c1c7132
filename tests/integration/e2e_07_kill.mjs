// e2e 07: kill -9 of each stage in turn, mid-job (issue 8, scenario 7).
// The Ollama double streams slowly (a per-token delay) so the job is still
// inferring when the stage dies. For each of relayd, jobd, inferd and
// invoiced: the launcher brings the stage back (new pid, jobd sees it
// connected), the job completes with exactly one result event id and one
// invoice at the wallet, and paying that invoice marks the job paid.
import { World, Report, check, eq, sleep, waitFor } from '../e2e/lib.mjs';

const rep = new Report(import.meta.url, 170000);
const w = new World({ relays: 1, ollama: { tokenDelayMs: 60 } });

async function killMidJob(stage) {
  const prompt = `${stage} dies mid job ` + Array.from({ length: 30 }, (_, i) => `t${i}`).join(' ');
  const inv0 = w.invoices().length;
  const r = await w.request({ prompt });
  await w.waitFeedback(r, 'processing', 15000);
  await waitFor(() => { const q = w.inferences(prompt)[0]; return q && q.tokensSent >= 3; }, 10000,
    'the double streaming the answer');
  const old = await w.pipe.kill9(stage);
  await w.pipe.waitBack(stage, old, 25000);
  const res = await w.waitResult(r, 30000);
  eq(res.content, `Echo: ${prompt}`, 'result content');
  await sleep(1500);	/* room for a duplicate to show up */
  const results = await w.results(r);
  eq(results.length, 1, `distinct result events (ids ${results.map(x => x.id.slice(0, 8)).join(',')})`);
  eq(w.invoices().length, inv0 + 1, 'invoices at the wallet for the job');
  const inv = w.invoiceOf(res.bolt11);
  check(inv, 'the result bolt11 is not the wallet\'s invoice');
  const infers = w.inferences(prompt).length;
  if (stage !== 'inferd') eq(infers, 1, 'inferences (infer is idempotent by job)');
  else check(infers <= 2, `${infers} inferences after an inferd restart`);
  w.lnbits.pay(inv.hash);
  await waitFor(async () => { const x = await w.pipe.job(r.id); return x && x.paid; }, 10000,
    'dvmctl jobs shows the job paid');
  eq(Object.keys(w.pipe.pids()).length, 4, 'stages running');
}

try {
  await w.start();
  for (const stage of ['relayd', 'jobd', 'inferd', 'invoiced'])
    await rep.run(`7 kill -9 ${stage} mid-job: back, one result id, one invoice, paid`, () => killMidJob(stage), 45000);
  await rep.run('every event received verifies (id, signature)', async () =>
    eq(w.client.bad.length, 0, 'events failing verification'), 1000);
} catch (e) {
  rep.fail('setup', e.message);
} finally {
  await w.stopAll(rep).catch(e => rep.fail('teardown', e.message));
  rep.done();
}
