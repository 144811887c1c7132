// inferd_idempotent.mjs: infer is idempotent by job id. A second infer for a
// running job attaches to it (one transfer, the newcomer catches up on the
// text so far); once finished, the answer is replayed from the cache with no
// new transfer; a client that went away finds its answer on reconnecting;
// retryable failures are not cached, so asking again runs again.
import fs from 'node:fs';
import { startOllamaDouble } from '../lib/ollama-double.mjs';
import { startInferd, suite, eq, cleanExit, jobId, sleep } from '../lib/inferd-rig.mjs';

function cpuTicks(pid) {
	const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
	return Number(f[11]) + Number(f[12]);
}

const t = suite('inferd_idempotent.mjs', 50000);
const d = await startOllamaDouble({ tokenDelayMs: 40 });
t.cleanup(() => d.close());
const inf = await startInferd({ conf: { infer_urls: d.url } });
t.cleanup(() => inf.proc.kill('SIGKILL'));
const chats = () => d.log().requests.filter((r) => r.path === '/api/chat');
const req = (job, s) => ({ op: 'infer', job, model: 'llama3.2', messages: [{ role: 'user', content: s }] });

await t.check('re-infer while running attaches: one transfer, full text for the newcomer', async () => {
	await d.control({ resetLog: true });
	const c1 = await inf.connect(), c2 = await inf.connect();
	const job = jobId(), text = 'one two three four five six seven eight';
	c1.send(req(job, text));
	await c1.next((m) => m.op === 'chunk' && m.job === job);
	await sleep(120);
	c2.send(req(job, text));
	const f2 = await c2.final(job);
	eq([f2.op, f2.text], ['done', 'Echo: ' + text], 'answer to the newcomer');
	eq(c2.chunks(job).map((x) => x.text).join(''), 'Echo: ' + text, 'newcomer chunks add up');
	eq(chats().length, 1, 'transfers');
	c1.close();
	c2.close();
});

await t.check('re-infer after done: the cached answer at once, no new transfer', async () => {
	await d.control({ resetLog: true });
	const c = await inf.connect();
	const job = jobId();
	const r = await c.infer({ job, model: 'llama3.2', messages: [{ role: 'user', content: 'cache me' }] });
	const c2 = await inf.connect();
	const t0 = Date.now();
	c2.send(req(job, 'cache me'));
	const f = await c2.final(job, 2000);
	eq(f, r.final, 'same answer');
	eq(chats().length, 1, 'transfers');
	if (Date.now() - t0 > 500)
		throw new Error(`replay took ${Date.now() - t0} ms`);
	c.close();
	c2.close();
});

await t.check('the client went away mid-job: the answer waits for the next infer', async () => {
	await d.control({ resetLog: true });
	const c = await inf.connect();
	const job = jobId();
	c.send(req(job, 'a b c d e f'));
	await c.next((m) => m.op === 'chunk' && m.job === job);
	c.close();
	const cpu0 = cpuTicks(inf.proc.pid);
	await sleep(600);	// the job finishes with nobody listening
	// A closed client must not leave a descriptor that polls ready for ever.
	const spent = cpuTicks(inf.proc.pid) - cpu0;
	if (spent > 20)
		throw new Error(`inferd used ${spent} clock ticks of CPU in 600 ms with no client`);
	const c2 = await inf.connect();
	c2.send(req(job, 'a b c d e f'));
	const f = await c2.final(job, 3000);
	eq([f.op, f.text], ['done', 'Echo: a b c d e f'], 'answer');
	eq(chats().length, 1, 'transfers');
	eq(chats()[0].clientClosed, false, 'the transfer ran to the end');
	c2.close();
});

await t.check('a retryable failure is not cached: asking again runs again', async () => {
	await d.control({ resetLog: true, failStatus: 503 });
	const c = await inf.connect();
	const job = jobId();
	const r = await c.infer({ job, model: 'llama3.2', messages: [{ role: 'user', content: 'again' }] });
	eq([r.final.op, r.final.code], ['error', 'busy'], 'first');
	await d.control({ failStatus: null });
	const c2 = await inf.connect();
	const r2 = await c2.infer({ job, model: 'llama3.2', messages: [{ role: 'user', content: 'again' }] });
	eq([r2.final.op, r2.final.text], ['done', 'Echo: again'], 'second');
	eq(chats().length, 2, 'transfers');
	c.close();
	c2.close();
});

await t.check('exit 0, clean', async () => {
	cleanExit(await inf.stop());
});

await t.done();
