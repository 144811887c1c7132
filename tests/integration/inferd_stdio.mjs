// inferd_stdio.mjs: `inferd --stdio` speaks the same protocol on stdin and
// stdout: a piped infer prints its chunks and done; at end of input the
// running jobs finish before the exit (0); SIGTERM answers with shutdown;
// usage and config errors exit 100.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startOllamaDouble } from '../lib/ollama-double.mjs';
import { BIN, suite, assert, eq, jobId, tmpdir, sanitizerReport } from '../lib/inferd-rig.mjs';

const t = suite('inferd_stdio.mjs', 50000);
const d = await startOllamaDouble({ tokenDelayMs: 20 });
t.cleanup(() => d.close());
const procs = [];
t.cleanup(() => procs.forEach((p) => p.kill('SIGKILL')));
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DVM_')));

function run(args, input, { onStdout, ms = 15000 } = {}) {
	return new Promise((resolve) => {
		const p = spawn(path.join(BIN, 'inferd'), args, { stdio: ['pipe', 'pipe', 'pipe'], env });
		procs.push(p);
		let out = '', err = '';
		p.stdout.on('data', (x) => { out += x; if (onStdout) onStdout(out, p); });
		p.stderr.on('data', (x) => { err += x; });
		const k = setTimeout(() => p.kill('SIGKILL'), ms);
		p.on('exit', (code, sig) => {
			clearTimeout(k);
			const lines = out.split('\n').filter(Boolean).map((l) => {
				try { return JSON.parse(l); } catch { return { op: '_text', line: l }; }
			});
			resolve({ code, sig, out, err, lines });
		});
		if (typeof input === 'string')
			p.stdin.end(input);
		else
			p.stdin.write(input.open);	/* stdin stays open */
	});
}

function clean(r) {
	const rep = sanitizerReport(r.err);
	assert(!rep, `sanitizer: ${rep}`);
}

await t.check('piped infer: chunks then done on stdout, exit 0', async () => {
	const job = jobId();
	const r = await run(['--stdio', '--url', d.url], JSON.stringify({ op: 'infer', job, model: 'llama3.2',
		messages: [{ role: 'user', content: 'pipe me through' }] }) + '\n');
	clean(r);
	eq(r.code, 0, `exit code (${r.err.slice(-300)})`);
	const done = r.lines.filter((m) => m.op === 'done');
	eq(done.length, 1, 'one done');
	eq(done[0].text, 'Echo: pipe me through', 'text');
	eq(r.lines.filter((m) => m.op === 'chunk').map((m) => m.text).join(''), 'Echo: pipe me through', 'chunks');
	eq(r.lines[r.lines.length - 1].op, 'done', 'done comes last');
});

await t.check('--backend openai --model: the overrides reach the wire and the probe', async () => {
	const job = jobId();
	const line = JSON.stringify({ op: 'infer', job, model: 'llama3.2', stream: false,
		messages: [{ role: 'user', content: 'over sse' }] }) + '\n';
	let asked = false;
	const r = await run(['--stdio', '--backend', 'openai', '--model', 'qwen2.5', '--url', d.url], { open: line }, {
		onStdout(out, p) {
			if (!asked && out.includes('"op":"done"')) {
				asked = true;
				// The probe has long finished by then: ask, and end the input.
				setTimeout(() => p.stdin.end('{"op":"health"}\n'), 300);
			}
		},
	});
	clean(r);
	eq(r.code, 0, 'exit code');
	eq(r.lines.find((m) => m.op === 'done').text, 'Echo: over sse', 'text');
	const reqs = d.log().requests;
	eq(reqs.filter((x) => x.path === '/v1/chat/completions').pop().body.model, 'llama3.2', 'model asked');
	const h = r.lines.find((m) => m.op === 'health');
	eq([h.backends[0].kind, h.backends[0].ok, h.backends[0].model_ok], ['openai', true, false],
	    'health: up, but without qwen2.5');
});

await t.check('end of input waits for every running job', async () => {
	await d.control({ tokenDelayMs: 100 });
	const jobs = [jobId(), jobId()];
	const input = jobs.map((job, i) => JSON.stringify({ op: 'infer', job, model: 'llama3.2',
		messages: [{ role: 'user', content: `slow answer number ${i}` }] }) + '\n').join('');
	const t0 = Date.now();
	const r = await run(['--stdio', '--url', d.url], input);
	await d.control({ tokenDelayMs: 20 });
	clean(r);
	eq(r.code, 0, 'exit code');
	assert(Date.now() - t0 >= 400, 'exited before the jobs could finish');
	eq(r.lines.filter((m) => m.op === 'done').map((m) => m.job).sort(), [...jobs].sort(), 'both done');
});

await t.check('SIGTERM in --stdio: open jobs answered with shutdown, exit 0', async () => {
	await d.control({ tokenDelayMs: 300 });
	const job = jobId();
	let sent = false;
	const line = JSON.stringify({ op: 'infer', job, model: 'llama3.2',
		messages: [{ role: 'user', content: 'a b c d e f g h' }] }) + '\n';
	const r = await run(['--stdio', '--url', d.url], { open: line }, {
		onStdout(out, p) {
			if (!sent && out.includes('"op":"chunk"')) {
				sent = true;
				p.kill('SIGTERM');
			}
		},
	});
	await d.control({ tokenDelayMs: 20 });
	clean(r);
	eq(r.code, 0, 'exit code');
	const e = r.lines.find((m) => m.op === 'error');
	eq([e && e.job, e && e.code, e && e.retryable], [job, 'shutdown', true], 'answer');
});

await t.check('--help: exit 0 with usage; bad usage and bad config: exit 100', async () => {
	const h = await run(['--help'], '');
	eq(h.code, 0, '--help exit');
	assert(/usage: inferd/.test(h.out) && /--notify-fd/.test(h.out), 'usage text');
	eq((await run(['--bogus'], '')).code, 100, 'unknown option');
	eq((await run(['--backend', 'magic'], '')).code, 100, 'bad backend');
	eq((await run(['--url', 'ftp://x'], '')).code, 100, 'bad url');
	const dir = tmpdir();
	const conf = path.join(dir, 'dvm.conf');
	fs.writeFileSync(conf, 'infer_idle_timeout = soon\n');
	const bad = await run(['-c', conf, '--stdio'], '');
	eq(bad.code, 100, 'bad config');
	assert(/infer_idle_timeout/.test(bad.err), `message names the key: ${bad.err}`);
	// A key file others can read is refused, like a Nostr key file.
	const key = path.join(dir, 'openai.key');
	fs.writeFileSync(key, 'sk-secret\n', { mode: 0o644 });
	fs.chmodSync(key, 0o644);
	fs.writeFileSync(conf, `infer_backend = openai\nopenai_api_key_file = ${key}\n`);
	const loose = await run(['-c', conf, '--stdio'], '');
	fs.rmSync(dir, { recursive: true, force: true });
	eq(loose.code, 100, 'group/other-readable key file');
	assert(/openai_api_key_file/.test(loose.err) && !loose.err.includes('sk-secret'), `message: ${loose.err}`);
});

await t.done();
