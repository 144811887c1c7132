// invoiced-rig.mjs: start bin/invoiced against a wallet double and talk to it
// over invoiced.sock, for tests/integration/invoiced_*.mjs.
//
//   const inv = await startInvoiced({ dir, conf: {wallet:'lnbits', ...}, args: [] });
//   const c = await inv.connect();  c.send({op:'invoice', ...});
//   const m = await c.next((m) => m.op === 'invoice' && m.job === J, 5000);
//   const { code, stderr } = await inv.stop();   // SIGTERM; code 0 expected
//
// Every test makes its own temp dir; the rig never uses a fixed port or path.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import os from 'node:os';
import crypto from 'node:crypto';

export const BIN = process.env.BIN || path.resolve(new URL('../../bin', import.meta.url).pathname);

export function tmpdir(prefix = 'invoiced-') {
	return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function jobId() {
	return crypto.randomBytes(32).toString('hex');
}

export function writeConf(dir, kv) {
	const file = path.join(dir, 'dvm.conf');
	fs.writeFileSync(file, Object.entries(kv).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
	return file;
}

export function writeSecret(dir, name, text, mode = 0o600) {
	const file = path.join(dir, name);
	fs.writeFileSync(file, text + '\n', { mode });
	fs.chmodSync(file, mode);
	return file;
}

// Spawn invoiced; resolve once it wrote its readiness newline to fd 3.
export function startInvoiced({ dir, conf, args = [], timeoutMs = 10000 }) {
	const confFile = writeConf(dir, { state_dir: path.join(dir, 'var'), ...conf });
	const proc = spawn(path.join(BIN, 'invoiced'), ['-c', confFile, '--notify-fd', '3', ...args], {
		stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
		// The config file alone decides: no DVM_* overrides leak in.
		env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DVM_'))),
	});
	let stderr = '';
	proc.stderr.on('data', (d) => { stderr += d; });
	proc.stdout.on('data', () => {});
	const exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve({ code, sig })));
	const sock = path.join(dir, 'var', 'run', 'invoiced', 'invoiced.sock');
	const ready = new Promise((resolve, reject) => {
		const t = setTimeout(() => reject(new Error(`invoiced not ready in ${timeoutMs} ms: ${stderr}`)), timeoutMs);
		proc.stdio[3].on('data', () => { clearTimeout(t); resolve(); });
		exited.then(({ code }) => { clearTimeout(t); reject(Object.assign(new Error(`invoiced exited ${code}: ${stderr}`), { code })); });
	});
	const clients = [];
	const h = {
		proc, sock, exited,
		get stderr() { return stderr; },
		ready,
		async connect() {
			const c = await connectNdjson(sock);
			clients.push(c);
			return c;
		},
		// SIGTERM and wait; a hard kill after timeoutMs so a test never hangs.
		async stop(ms = 8000) {
			for (const c of clients) c.close();
			if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
			const t = setTimeout(() => proc.kill('SIGKILL'), ms);
			const r = await exited;
			clearTimeout(t);
			return { ...r, stderr };
		},
	};
	return h;
}

export function connectNdjson(sockPath) {
	return new Promise((resolve, reject) => {
		const s = net.createConnection(sockPath);
		const msgs = [];
		const waiters = [];
		let buf = '';
		s.on('error', reject);
		s.on('connect', () => {
			s.off('error', reject);
			s.on('error', () => {});
			resolve({
				msgs,
				send(o) { s.write((typeof o === 'string' ? o : JSON.stringify(o)) + '\n'); },
				// The first message (seen before or arriving later) matching pred.
				next(pred, ms = 5000) {
					const i = msgs.findIndex(pred);
					if (i >= 0) return Promise.resolve(msgs.splice(i, 1)[0]);
					return new Promise((res, rej) => {
						const w = { pred, res };
						w.t = setTimeout(() => {
							waiters.splice(waiters.indexOf(w), 1);
							rej(new Error(`no matching message in ${ms} ms; saw ${JSON.stringify(msgs).slice(0, 600)}`));
						}, ms);
						waiters.push(w);
					});
				},
				close() { s.destroy(); },
			});
		});
		s.on('data', (d) => {
			buf += d;
			let nl;
			while ((nl = buf.indexOf('\n')) >= 0) {
				const line = buf.slice(0, nl);
				buf = buf.slice(nl + 1);
				let m;
				try { m = JSON.parse(line); } catch { m = { op: '_unparseable', line }; }
				const w = waiters.find((x) => x.pred(m));
				if (w) {
					clearTimeout(w.t);
					waiters.splice(waiters.indexOf(w), 1);
					w.res(m);
				} else msgs.push(m);
			}
		});
	});
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Tests print one line per case; a thrown error is that case's FAIL line.
export function reporter(file) {
	let failed = 0;
	return {
		async run(name, fn) {
			try {
				await fn();
				console.log(`PASS: ${file}: ${name}`);
			} catch (e) {
				failed++;
				console.log(`FAIL: ${file}: ${name}: ${String(e.message ?? e).replace(/\n/g, ' ').slice(0, 600)}`);
			}
		},
		get failed() { return failed; },
	};
}

export function check(cond, why) {
	if (!cond) throw new Error(why);
}

// An ASan build prints leak and error reports on stderr.
export function sanitizerClean(stderr) {
	return !/ERROR: (Address|Leak)Sanitizer|runtime error:/.test(stderr);
}
