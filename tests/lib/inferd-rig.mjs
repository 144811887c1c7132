// inferd-rig.mjs: start bin/inferd against tests/lib/ollama-double.mjs and
// talk to it over inferd.sock, for tests/integration/inferd_*.mjs.
//
//   const t = suite('inferd_stream.mjs', 50000);      // PASS/FAIL lines, hard timeout
//   const d = await startOllamaDouble({...});
//   const inf = await startInferd({ conf: { infer_urls: d.url } });
//   const c = await inf.connect();
//   const r = await c.infer({ model: 'llama3.2', messages: [...] });  // {chunks, text, final}
//   const { code, stderr } = await inf.stop();        // SIGTERM; 0 and no sanitizer report
//
// Every test makes its own temp dir; nothing uses a fixed port or path.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import os from 'node:os';
import crypto from 'node:crypto';

export const BIN = process.env.BIN || path.resolve(new URL('../../bin', import.meta.url).pathname);
export const UNITDIR = process.env.UNITDIR ||
    path.resolve(new URL('../../build/build/tests', import.meta.url).pathname);

export function tmpdir(prefix = 'inferd-') {
	return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function jobId() {
	return crypto.randomBytes(32).toString('hex');
}

export function sleep(ms) {
	return new Promise((r) => setTimeout(r, ms));
}

// Words as the double counts them.
export function words(s) {
	const w = s.trim().split(/\s+/);
	return w[0] === '' ? 0 : w.length;
}

export function sanitizerReport(stderr) {
	const m = stderr.match(/(ERROR: (Address|Leak)Sanitizer[^\n]*|runtime error:[^\n]*)/);
	return m ? m[0] : null;
}

// Test cases print PASS/FAIL lines; a hard timeout fails the file and exits.
export function suite(file, hardMs = 55000) {
	let failed = 0;
	const cleanups = [];
	const timer = setTimeout(async () => {
		console.log(`FAIL: ${file}: hard timeout: ${hardMs} ms`);
		for (const f of cleanups.reverse()) {
			try { await f(); } catch { /* best effort */ }
		}
		process.exit(1);
	}, hardMs);
	return {
		async check(name, fn) {
			try {
				await fn();
				console.log(`PASS: ${file}: ${name}`);
			} catch (e) {
				failed++;
				console.log(`FAIL: ${file}: ${name}: ${String(e && e.message || e).split('\n')[0]}`);
				if (e && e.stack)
					process.stderr.write(`${name}: ${e.stack}\n`);
			}
		},
		cleanup(f) { cleanups.push(f); },
		async done() {
			for (const f of cleanups.reverse()) {
				try { await f(); } catch (e) { process.stderr.write(`cleanup: ${e}\n`); }
			}
			clearTimeout(timer);
			process.exit(failed ? 1 : 0);
		},
	};
}

export function assert(cond, msg) {
	if (!cond)
		throw new Error(msg);
}

export function eq(a, b, what) {
	if (JSON.stringify(a) !== JSON.stringify(b))
		throw new Error(`${what}: got ${JSON.stringify(a)}, want ${JSON.stringify(b)}`);
}

// Fast, test-friendly defaults; any key can be overridden.
const CONF = {
	model: 'llama3.2',
	log_level: 'info',
	infer_backend: 'ollama',
	infer_connect_timeout: 5,
	infer_first_byte_timeout: 20,
	infer_idle_timeout: 20,
	infer_total_timeout: 60,
	infer_health_interval: 30,
	infer_max_inflight: 4,
	keep_alive: '5m',
	chunk_interval_ms: 100,
};

export function writeConf(dir, kv) {
	const file = path.join(dir, 'dvm.conf');
	fs.writeFileSync(file, Object.entries(kv).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
	return file;
}

// Spawn inferd; resolve once it wrote its readiness newline to fd 3.
export async function startInferd({ conf = {}, args = [], timeoutMs = 15000 } = {}) {
	const dir = tmpdir();
	const confFile = writeConf(dir, { state_dir: path.join(dir, 'var'), ...CONF, ...conf });
	const proc = spawn(path.join(BIN, 'inferd'), ['-c', confFile, '--notify-fd', '3', ...args], {
		stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
		env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DVM_'))),
	});
	let stderr = '';
	proc.stderr.on('data', (d) => { stderr += d; });
	proc.stdout.on('data', () => {});
	const exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve({ code, sig })));
	const sock = path.join(dir, 'var', 'run', 'inferd', 'inferd.sock');
	const readyAt = Date.now();
	await new Promise((resolve, reject) => {
		const t = setTimeout(() => reject(new Error(`inferd not ready in ${timeoutMs} ms: ${stderr}`)), timeoutMs);
		proc.stdio[3].on('data', () => { clearTimeout(t); resolve(); });
		exited.then(({ code }) => { clearTimeout(t); reject(new Error(`inferd exited ${code}: ${stderr}`)); });
	});
	const clients = [];
	return {
		proc, sock, dir, exited,
		readyMs: Date.now() - readyAt,
		get stderr() { return stderr; },
		async connect() {
			const c = await connectNdjson(sock);
			clients.push(c);
			return c;
		},
		// SIGTERM and wait; a hard kill after ms so a test never hangs.
		async stop(ms = 8000, keepClients = false) {
			if (!keepClients)
				for (const c of clients) c.close();
			if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
			const t = setTimeout(() => proc.kill('SIGKILL'), ms);
			const r = await exited;
			clearTimeout(t);
			fs.rmSync(dir, { recursive: true, force: true });
			return { ...r, stderr };
		},
	};
}

// Check a stop result: exit 0, no sanitizer report.
export function cleanExit(r) {
	const rep = sanitizerReport(r.stderr);
	assert(!rep, `sanitizer: ${rep}`);
	assert(r.code === 0, `exit code ${r.code} signal ${r.sig}; stderr tail: ${r.stderr.slice(-400)}`);
}

export function connectNdjson(sockPath) {
	return new Promise((resolve, reject) => {
		const s = net.connect(sockPath);
		const msgs = [];
		const times = [];	/* Date.now() when msgs[i] arrived */
		const waiters = [];
		let buf = '';
		let closed = false;
		s.setEncoding('utf8');
		s.on('data', (d) => {
			buf += d;
			let i;
			while ((i = buf.indexOf('\n')) >= 0) {
				const line = buf.slice(0, i);
				buf = buf.slice(i + 1);
				let m;
				try { m = JSON.parse(line); } catch { m = { op: '_unparsable', line }; }
				msgs.push(m);
				times.push(Date.now());
				for (const w of [...waiters])
					if (w.pred(m)) {
						waiters.splice(waiters.indexOf(w), 1);
						clearTimeout(w.t);
						w.resolve(m);
					}
			}
		});
		s.on('close', () => { closed = true; });
		s.on('error', (e) => { if (!closed) reject(e); });
		s.on('connect', () => resolve({
			sock: s, msgs, times,
			get closed() { return closed; },
			send(o) { s.write((typeof o === 'string' ? o : JSON.stringify(o)) + '\n'); },
			// First message (already received or future) matching pred.
			next(pred, ms = 10000) {
				const have = msgs.find(pred);
				if (have)
					return Promise.resolve(have);
				return new Promise((res, rej) => {
					const w = { pred, resolve: res };
					w.t = setTimeout(() => {
						waiters.splice(waiters.indexOf(w), 1);
						rej(new Error(`no matching message in ${ms} ms`));
					}, ms);
					waiters.push(w);
				});
			},
			// The final done/error for job.
			final(job, ms = 15000) {
				return this.next((m) => m.job === job && (m.op === 'done' || m.op === 'error'), ms);
			},
			chunks(job) {
				return msgs.filter((m) => m.op === 'chunk' && m.job === job);
			},
			// Send an infer and wait for its outcome.
			async infer(req, ms = 15000) {
				const job = req.job || jobId();
				this.send({ op: 'infer', job, ...req });
				const fin = await this.final(job, ms);
				const chunks = this.chunks(job);
				return { job, final: fin, chunks, text: chunks.map((c) => c.text).join('') };
			},
			close() { s.destroy(); },
		}));
	});
}

// Poll until fn() is truthy.
export async function until(fn, ms = 5000, what = 'condition') {
	const end = Date.now() + ms;
	for (;;) {
		const v = await fn();
		if (v)
			return v;
		if (Date.now() > end)
			throw new Error(`timed out waiting for ${what}`);
		await sleep(20);
	}
}
