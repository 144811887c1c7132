// inferd_reload.mjs: SIGHUP re-reads the config (a new in-flight limit
// applies at once); hostile client input (an overlong line, a NUL byte, a
// flood of garbage) is dropped without harming the connection or the jobs.
import fs from 'node:fs';
import path from 'node:path';
import { startOllamaDouble } from '../lib/ollama-double.mjs';
import { startInferd, suite, eq, assert, cleanExit, jobId, until } from '../lib/inferd-rig.mjs';

const t = suite('inferd_reload.mjs', 50000);
const d = await startOllamaDouble({ tokenDelayMs: 100 });
t.cleanup(() => d.close());
const inf = await startInferd({ conf: { infer_urls: d.url, infer_max_inflight: 1 } });
t.cleanup(() => inf.proc.kill('SIGKILL'));
const c = await inf.connect();
const req = (job) => ({ op: 'infer', job, model: 'llama3.2', messages: [{ role: 'user', content: 'a b c' }] });

await t.check('SIGHUP applies a new infer_max_inflight', async () => {
	const j1 = jobId(), j2 = jobId();
	c.send(req(j1));
	c.send(req(j2));
	eq((await c.final(j2)).code, 'busy', 'second job under limit 1');
	await c.final(j1);
	// The rig wrote dvm.conf in inf.dir; raise the limit and reload.
	const conf = path.join(inf.dir, 'dvm.conf');
	const text = fs.readFileSync(conf, 'utf8').replace(/infer_max_inflight = 1/, 'infer_max_inflight = 3');
	assert(text.includes('infer_max_inflight = 3'), 'config rewritten');
	fs.writeFileSync(conf, text);
	inf.proc.kill('SIGHUP');
	await until(() => inf.stderr.includes('reloaded the config'), 3000, 'reload');
	const jobs = [jobId(), jobId(), jobId()];
	jobs.forEach((j) => c.send(req(j)));
	const finals = await Promise.all(jobs.map((j) => c.final(j)));
	eq(finals.map((f) => f.op), ['done', 'done', 'done'], 'three at once under limit 3');
});

await t.check('a bad config on SIGHUP keeps the old one', async () => {
	const conf = path.join(inf.dir, 'dvm.conf');
	const good = fs.readFileSync(conf, 'utf8');
	fs.writeFileSync(conf, good + 'infer_idle_timeout = never\n');
	inf.proc.kill('SIGHUP');
	await until(() => inf.stderr.includes('keeping the old config'), 3000, 'refused reload');
	fs.writeFileSync(conf, good);
	const r = await c.infer({ model: 'llama3.2', messages: [{ role: 'user', content: 'fine' }] });
	eq(r.final.op, 'done', 'still serving');
});

await t.check('overlong line, NUL byte and garbage are dropped; the connection lives', async () => {
	const job = jobId();
	c.send(req(job));
	c.send('{"op":"infer","pad":"' + 'x'.repeat(1100 * 1024) + '"}');
	c.sock.write(Buffer.from('{"op":"health"\u0000}\n'));
	for (let i = 0; i < 200; i++)
		c.send('garbage ' + i);
	const f = await c.final(job, 10000);
	eq(f.op, 'done', 'the job in flight');
	const r = await c.infer({ model: 'llama3.2', messages: [{ role: 'user', content: 'after' }] });
	eq(r.final.text, 'Echo: after', 'next job');
	assert(!c.closed, 'connection closed');
	assert(/suppressed|bad line/.test(inf.stderr), 'bad lines logged');
	const lines = inf.stderr.split('\n').filter((l) => /bad line/.test(l)).length;
	assert(lines < 50, `log not rate-limited: ${lines} lines`);
	c.send({ op: 'health' });
	const h = await c.next((m) => m.op === 'health');
	if (!(h.bad_lines >= 202))
		throw new Error(`bad_lines ${h.bad_lines}, want >= 202`);
	eq(h.jobs, 0, 'jobs running');
});

await t.check('exit 0, clean', async () => {
	cleanExit(await inf.stop());
});

await t.done();
