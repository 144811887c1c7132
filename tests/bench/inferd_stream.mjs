#!/usr/bin/env node
// inferd_stream.mjs: inferd's own cost, measured against the Ollama double.
//
//   1 overhead  wall time of one 2,000-token stream (1 ms per token) through
//               inferd (infer sent -> done received on inferd.sock) vs the
//               same stream read directly with curl (its time_total);
//               median of 7 runs each, interleaved. Target <= 1 %.
//   2 memory    inferd's RSS idle, and its peak while 100 streams of 200
//               tokens (20 ms per token) run at once. Target <= 10 MB. Also
//               its private part, and for scale the RSS of the curl tool
//               (same libcurl) in the middle of one request.
//   3 cpu       inferd's CPU time (utime + stime) per streamed token over (2).
//
// Prints a table; with --json the last line is the results as JSON (read by
// tests/bench/bench.mjs). Environment: BIN (the optimised build: default bin/).
import { execFileSync, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startInferd, jobId, sleep } from '../lib/inferd-rig.mjs';

const json = process.argv.includes('--json');
const say = (...a) => { if (!json) console.log(...a); };
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const TICK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function rssKb(pid) {
	const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
	return m ? Number(m[1]) : NaN;
}

// Private (anonymous) memory: RSS minus the shared library pages.
function anonKb(pid) {
	const m = /^Anonymous:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
	return m ? Number(m[1]) : NaN;
}

function cpuMs(pid) {
	// Fields 14 and 15 of /proc/pid/stat, after the parenthesised name.
	const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
	const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
	return (Number(f[11]) + Number(f[12])) * 1000 / TICK;
}

// The double runs in its own process, so this process's work (reading
// inferd's lines) cannot slow the double's token clock in one measurement
// and not in the other.
async function startDouble(args) {
	const p = spawn('node', [fileURLToPath(new URL('../lib/ollama-double.mjs', import.meta.url)), ...args],
	    { stdio: ['ignore', 'pipe', 'inherit'] });
	const url = await new Promise((res, rej) => {
		let out = '';
		p.stdout.on('data', (x) => {
			out += x;
			const m = /READY (\S+)/.exec(out);
			if (m) res(m[1]);
		});
		p.on('exit', (code) => rej(new Error(`double exited ${code}`)));
	});
	return {
		url,
		control: (o) => fetch(url + '/_control', { method: 'POST', body: JSON.stringify(o) }),
		close: () => { p.kill('SIGTERM'); },
	};
}

const d = await startDouble(['--answer-words', '2000', '--token-delay-ms', '1', '--paced']);
const inf = await startInferd({ conf: { infer_urls: d.url, max_tokens: 4096, infer_max_inflight: 128,
	log_level: 'warn' } });
const results = {};
try {
	const c = await inf.connect();
	const messages = [{ role: 'user', content: 'stream please' }];
	const body = JSON.stringify({ model: 'llama3.2', messages, stream: true, keep_alive: '5m',
		options: { num_predict: 4096 } });

	// Warm both paths once (connection setup, JIT in the double).
	await c.infer({ model: 'llama3.2', messages }, 60000);
	const direct = [], via = [];
	for (let i = 0; i < 7; i++) {
		// Not execFileSync: the double runs in this very process.
		const out = await new Promise((res, rej) => execFile('curl', ['-sS', '-N', '-o', '/dev/null',
			'-w', '%{time_total}', '-H', 'Content-Type: application/json', '--data-binary', body,
			d.url + '/api/chat'], (e, so) => (e ? rej(e) : res(so))));
		direct.push(Number(out) * 1000);
		const t0 = process.hrtime.bigint();
		const r = await c.infer({ model: 'llama3.2', messages }, 60000);
		via.push(Number(process.hrtime.bigint() - t0) / 1e6);
		if (r.final.op !== 'done' || r.final.completion_tokens !== 2000)
			throw new Error(`stream through inferd failed: ${JSON.stringify(r.final).slice(0, 200)}`);
	}
	const dm = median(direct), vm = median(via);
	results.direct_ms = +dm.toFixed(1);
	results.inferd_ms = +vm.toFixed(1);
	results.overhead_pct = (vm - dm) / dm * 100;
	say(`1 2,000-token stream: direct ${dm.toFixed(1)} ms, through inferd ${vm.toFixed(1)} ms: ` +
	    `${results.overhead_pct.toFixed(2)} % (target <= 1 %)`);

	// What any process pays for loading libcurl and its dependencies: the
	// curl tool itself, waiting on a request the double never answers.
	await d.control({ hang: true });
	const cp = spawn('curl', ['-s', '-o', '/dev/null', '-d', body, d.url + '/api/chat'], { stdio: 'ignore' });
	await sleep(500);
	results.curl_cli_rss_kb = rssKb(cp.pid);
	cp.kill();
	await d.control({ hang: false });

	// 100 concurrent streams of 200 tokens at 20 ms per token.
	await d.control({ answerWords: 200, tokenDelayMs: 20 });
	await sleep(200);
	const pid = inf.proc.pid;
	results.rss_idle_kb = rssKb(pid);
	results.anon_idle_kb = anonKb(pid);
	const cpu0 = cpuMs(pid);
	const jobs = [];
	for (let i = 0; i < 100; i++) {
		const job = jobId();
		jobs.push(job);
		c.send({ op: 'infer', job, model: 'llama3.2', messages });
	}
	let peak = 0, anonPeak = 0, running = true;
	const sampler = (async () => {
		while (running) {
			peak = Math.max(peak, rssKb(pid));
			anonPeak = Math.max(anonPeak, anonKb(pid));
			await sleep(50);
		}
	})();
	const t0 = Date.now();
	const finals = await Promise.all(jobs.map((job) => c.final(job, 60000)));
	running = false;
	await sampler;
	const wall = Date.now() - t0;
	const cpu = cpuMs(pid) - cpu0;
	const tokens = finals.reduce((n, f) => n + (f.op === 'done' ? f.completion_tokens : 0), 0);
	results.concurrent_ok = finals.filter((f) => f.op === 'done').length;
	results.concurrent_wall_ms = wall;
	results.rss_peak_kb = peak;
	results.anon_peak_kb = anonPeak;
	results.cpu_ms = +cpu.toFixed(1);
	results.tokens = tokens;
	results.cpu_us_per_token = +(cpu * 1000 / tokens).toFixed(2);
	say(`2 100 concurrent streams: ${results.concurrent_ok}/100 done in ${wall} ms (ideal ~4000 ms); ` +
	    `RSS idle ${(results.rss_idle_kb / 1024).toFixed(1)} MB, peak ${(peak / 1024).toFixed(1)} MB (target <= 10 MB); ` +
	    `of which private: idle ${(results.anon_idle_kb / 1024).toFixed(1)} MB, peak ${(anonPeak / 1024).toFixed(1)} MB ` +
	    `(the rest is shared library text; for scale, the curl tool mid-request: ` +
	    `${(results.curl_cli_rss_kb / 1024).toFixed(1)} MB)`);
	say(`3 CPU: ${cpu.toFixed(0)} ms for ${tokens} tokens: ${results.cpu_us_per_token} us per token ` +
	    `(clock tick ${1000 / TICK} ms)`);
} finally {
	await inf.stop();
	await d.close();
}
if (json)
	console.log(JSON.stringify(results));
