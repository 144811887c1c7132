// invoiced's hold-invoice primitives (the escrow flow's building blocks)
// against the wallet doubles, driven through tests/tools/tool_hold.c, which
// calls the backend interface exactly as invoiced will: a fresh preimage
// stored in invoices.db, hold_create on its hash (the BOLT11 verified:
// amount, network, hash), lookup reporting held, hold_settle with the
// stored preimage, hold_cancel. LND (tests/lib/lnd-double.mjs over https):
// success (held -> settle -> settled, and the preimage LND got hashes to the
// invoice's hash), cancel after accept, cancel of an unpaid invoice, settle
// refusals (still open, already canceled), idempotent settle and cancel,
// a duplicate hash refused, LND's auto-cancel near the HTLC deadline, and
// the double's two invoice streams behaving as LND's do.
// NWC (tests/lib/nwc-wallet.mjs with holds, on a real relay): capable only
// when the info event lists the methods and hold_invoice_accepted; success
// with the accepted notification as a push and the preimage matching;
// cancel after accept; Alby's NOT_FOUND for an unpaid cancel and INTERNAL
// for a repeated settle; a wallet that cannot hold ("not implemented").
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { startLndDouble } from '../lib/lnd-double.mjs';
import { startRelay } from '../lib/relay.mjs';
import { startNwcWallet } from '../lib/nwc-wallet.mjs';
import { tmpdir, jobId, writeConf, writeSecret, reporter, check, sleep, sanitizerClean } from '../lib/invoiced-rig.mjs';

const require = createRequire(import.meta.url);
const bolt11 = require('bolt11');
const FILE = 'invoiced_hold.mjs';
const UNITDIR = process.env.UNITDIR || path.resolve(new URL('../../build/tests', import.meta.url).pathname);
const rep = reporter(FILE);
const hardStop = setTimeout(() => { console.log(`FAIL: ${FILE}: timeout: the whole file took over 90 s`); process.exit(1); }, 90000);

// The tool: send a command line, get its one JSON answer.
function startTool(confFile) {
	const p = spawn(path.join(UNITDIR, 'tool_hold'), ['-c', confFile], { stdio: ['pipe', 'pipe', 'pipe'] });
	let buf = '', stderr = '';
	const lines = [], waiters = [], pushes = [];
	p.stderr.on('data', (d) => { stderr += d; });
	p.stdout.on('data', (d) => {
		buf += d;
		let nl;
		while ((nl = buf.indexOf('\n')) >= 0) {
			const m = JSON.parse(buf.slice(0, nl));
			buf = buf.slice(nl + 1);
			if (m.op === 'push') pushes.push(m);
			else if (waiters.length) waiters.shift()(m); else lines.push(m);
		}
	});
	const exited = new Promise((r) => p.on('exit', (code) => r(code)));
	const next = (ms = 8000) => (lines.length ? Promise.resolve(lines.shift()) : new Promise((res, rej) => {
		const t = setTimeout(() => rej(new Error(`tool_hold: no answer in ${ms} ms; stderr: ${stderr.slice(-400)}`)), ms);
		waiters.push((m) => { clearTimeout(t); res(m); });
	}));
	return {
		next, pushes,
		async cmd(line, ms) { p.stdin.write(line + '\n'); return next(ms); },
		async stop() { p.stdin.end(); const code = await exited; return { code, stderr }; },
		get stderr() { return stderr; },
	};
}

const dir = tmpdir('invoiced-hold-');
const lnd = await startLndDouble({ network: 'regtest', dir });
const macFile = path.join(dir, 'invoice.macaroon');
fs.writeFileSync(macFile, lnd.macaroon, { mode: 0o600 });
const confFile = writeConf(dir, {
	state_dir: path.join(dir, 'var'), wallet: 'lnd', lightning_network: 'regtest',
	lnd_url: lnd.url, lnd_macaroon_file: macFile, lnd_tls_cert_file: lnd.certFile,
});
const tool = startTool(confFile);
check((await tool.next()).op === 'ready', 'tool not ready');

const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
async function create(msat = 21000, t = tool) {
	const r = await t.cmd(`create ${jobId()} ${msat} 600`);
	check(r.ok === true, `create: ${JSON.stringify(r)}`);
	return r;
}
async function state(hash, t = tool) {
	const r = await t.cmd(`lookup ${hash}`);
	check(r.ok === true, `lookup: ${JSON.stringify(r)}`);
	return r;
}

await rep.run('lnd_capable', async () => {
	const r = await tool.cmd('capable');
	check(r.capable === 1, JSON.stringify(r));
});

await rep.run('lnd_hold_success_settles_with_the_stored_preimage', async () => {
	const c = await create();
	const d = bolt11.decode(c.bolt11);
	check(d.tagsObject.payment_hash === c.payment_hash && d.millisatoshis === '21000', 'bolt11 hash/amount');
	const inv = lnd.invoices.get(c.payment_hash);
	check(inv && inv.hold, 'not a hold invoice at LND (POST /v2/invoices/hodl)');
	check(inv.private === true, 'no route hints asked for (private: true)');
	const req = lnd.log.find((e) => e.path === '/v2/invoices/hodl');
	check(req && req.status === 200, `hodl request ${JSON.stringify(req)}`);
	check((await state(c.payment_hash)).state === 'pending', 'not pending before payment');
	lnd.pay(c.payment_hash);
	const h = await state(c.payment_hash);
	check(h.state === 'held' && h.received_msat === 21000, `after pay: ${JSON.stringify(h)}`);
	check(h.htlc_expiry_height === lnd.height + 80, `htlc_expiry_height ${h.htlc_expiry_height}`);
	check(h.htlc_accept_height === lnd.height, `htlc_accept_height ${h.htlc_accept_height}`);
	check(lnd.state(c.payment_hash) === 'ACCEPTED', 'LND state');
	const s = await tool.cmd(`settle ${c.payment_hash}`);
	check(s.ok === true, `settle: ${JSON.stringify(s)}`);
	check(lnd.state(c.payment_hash) === 'SETTLED', `LND state ${lnd.state(c.payment_hash)}`);
	check(sha(inv.preimage) === c.payment_hash, 'the preimage LND got does not hash to the invoice hash');
	const p = await state(c.payment_hash);
	check(p.state === 'paid' && p.received_msat === 21000, `after settle: ${JSON.stringify(p)}`);
	const again = await tool.cmd(`settle ${c.payment_hash}`);
	check(again.ok === true, `a repeated settle is not idempotent: ${JSON.stringify(again)}`);
	const cx = await tool.cmd(`cancel ${c.payment_hash}`);
	check(cx.ok === false && cx.retryable === false && /already settled/.test(cx.error), `cancel after settle: ${JSON.stringify(cx)}`);
});

await rep.run('lnd_cancel_after_accept_refunds', async () => {
	const c = await create();
	lnd.pay(c.payment_hash);
	check((await state(c.payment_hash)).state === 'held', 'not held');
	const r = await tool.cmd(`cancel ${c.payment_hash}`);
	check(r.ok === true, `cancel: ${JSON.stringify(r)}`);
	check(lnd.state(c.payment_hash) === 'CANCELED', 'LND state');
	check(lnd.invoices.get(c.payment_hash).htlcs.every((x) => x.state === 'CANCELED'), 'HTLCs not failed back');
	check((await state(c.payment_hash)).state === 'failed', 'lookup after cancel');
	check((await tool.cmd(`cancel ${c.payment_hash}`)).ok === true, 'a repeated cancel is not idempotent');
	const s = await tool.cmd(`settle ${c.payment_hash}`);
	check(s.ok === false && s.retryable === false && /already canceled/.test(s.error), `settle after cancel: ${JSON.stringify(s)}`);
});

await rep.run('lnd_unpaid_cancel_and_settle_refused', async () => {
	const c = await create();
	const s = await tool.cmd(`settle ${c.payment_hash}`);
	check(s.ok === false && s.retryable === false && /still open/.test(s.error), `settle of an open invoice: ${JSON.stringify(s)}`);
	const r = await tool.cmd(`cancel ${c.payment_hash}`);
	check(r.ok === true && lnd.state(c.payment_hash) === 'CANCELED', `cancel of an unpaid invoice: ${JSON.stringify(r)}`);
	let threw = false;
	try { lnd.pay(c.payment_hash); } catch { threw = true; }
	check(threw, 'a cancelled invoice could still be paid');
});

await rep.run('lnd_duplicate_hash_refused', async () => {
	const c = await create();
	const r = await tool.cmd(`recreate ${c.payment_hash} 21000 600`);
	check(r.ok === false && r.retryable === false && /already exists/.test(r.error), JSON.stringify(r));
});

await rep.run('lnd_auto_cancel_near_the_htlc_deadline', async () => {
	const c = await create();
	lnd.pay(c.payment_hash);
	lnd.mine(80 - 18 - 1);
	check((await state(c.payment_hash)).state === 'held', 'cancelled too early');
	lnd.mine(1);
	check((await state(c.payment_hash)).state === 'failed', 'not auto-cancelled 18 blocks before expiry');
});

await rep.run('lnd_backend_down_is_retryable', async () => {
	const c = await create();
	lnd.pay(c.payment_hash);
	lnd.fail(1, '500');
	const s = await tool.cmd(`settle ${c.payment_hash}`);
	check(s.ok === false && s.retryable === true, `settle while LND fails: ${JSON.stringify(s)}`);
	check((await tool.cmd(`settle ${c.payment_hash}`)).ok === true, 'the retry did not settle');
});

// The double's streams, for an escrow that watches instead of polling.
function stream(pathname) {
	const lines = [];
	const req = https.get({ host: '127.0.0.1', port: lnd.port, path: pathname, ca: lnd.certPem,
		headers: { 'Grpc-Metadata-macaroon': lnd.macaroonHex } }, (res) => {
		let buf = '';
		res.on('data', (d) => {
			buf += d;
			let nl;
			while ((nl = buf.indexOf('\n')) >= 0) { lines.push(JSON.parse(buf.slice(0, nl)).result); buf = buf.slice(nl + 1); }
		});
	});
	req.on('error', () => {});
	return { lines, close: () => req.destroy() };
}

await rep.run('lnd_double_streams_as_lnd_does', async () => {
	const all = stream('/v1/invoices/subscribe');
	await sleep(200);
	const c = await create();
	const b64url = Buffer.from(c.payment_hash, 'hex').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
	const one = stream(`/v2/invoices/subscribe/${encodeURIComponent(b64url)}`);
	await sleep(200);
	lnd.pay(c.payment_hash);
	check((await tool.cmd(`settle ${c.payment_hash}`)).ok === true, 'settle');
	const c2 = await create();
	lnd.pay(c2.payment_hash);
	check((await tool.cmd(`cancel ${c2.payment_hash}`)).ok === true, 'cancel');
	await sleep(300);
	one.close();
	all.close();
	const states = one.lines.map((i) => i.state).join(' ');
	check(states === 'OPEN ACCEPTED SETTLED', `single-invoice stream: ${states}`);
	const mine = all.lines.filter((i) => [c.payment_hash, c2.payment_hash].includes(Buffer.from(i.r_hash, 'base64').toString('hex')));
	const seen = mine.map((i) => i.state).join(' ');
	check(seen === 'OPEN SETTLED OPEN', `all-invoices stream must skip ACCEPTED and CANCELED: ${seen}`);
});

await rep.run('preimage_only_in_the_settle_call', async () => {
	const { code, stderr } = await tool.stop();
	check(code === 0 && sanitizerClean(stderr), `tool exit ${code}: ${stderr.slice(-600)}`);
	for (const inv of lnd.invoices.values()) {
		if (!inv.preimage || !inv.hold) continue;
		const b = inv.preimage.toString('base64'), x = inv.preimage.toString('hex');
		check(!stderr.includes(x) && !stderr.includes(b), 'a preimage in the log');
	}
	const hodl = lnd.log.filter((e) => e.path !== '/v2/invoices/settle');
	check(hodl.every((e) => !/preimage/.test(e.query)), 'a preimage in a query');
});

await lnd.close();

/* ---------- NWC ---------- */

const relay = await startRelay({ port: 0, quiet: true });

async function nwcTool(opts) {
	const wallet = await startNwcWallet({ relayUrl: relay.url, ...opts });
	const d = tmpdir('invoiced-hold-nwc-');
	const uriFile = writeSecret(d, 'nwc.uri', wallet.uri);
	const t = startTool(writeConf(d, { state_dir: path.join(d, 'var'), wallet: 'nwc',
		lightning_network: 'regtest', nwc_uri_file: uriFile }));
	check((await t.next()).op === 'ready', 'tool not ready');
	let cap;
	for (let i = 0; i < 50; i++) {
		cap = await t.cmd('capable');
		if (cap.capable !== -1) break;
		await t.cmd('wait 100');
	}
	return { wallet, t, cap };
}

const nw = await nwcTool({ holds: true, envelope: 'alby' });

await rep.run('nwc_capable_from_the_info_event', async () => {
	check(nw.cap.capable === 1, JSON.stringify(nw.cap));
	const plain = await nwcTool({});
	check(plain.cap.capable === 0 && /make_hold_invoice/.test(plain.cap.why), `a wallet without holds: ${JSON.stringify(plain.cap)}`);
	await plain.t.stop();
	await plain.wallet.close();
});

await rep.run('nwc_hold_success_accepted_push_then_settle', async () => {
	const c = await create(21000, nw.t);
	const tx = nw.wallet.txs.get(c.payment_hash);
	check(tx && tx.hold, 'not a hold invoice at the wallet (make_hold_invoice)');
	check(nw.wallet.log.some((e) => e.method === 'make_hold_invoice' && e.params.payment_hash === c.payment_hash),
		'make_hold_invoice without our lowercase payment_hash');
	check((await state(c.payment_hash, nw.t)).state === 'pending', 'not pending before payment');
	nw.wallet.pay(c.payment_hash);
	for (let i = 0; i < 40 && !nw.t.pushes.some((p) => p.payment_hash === c.payment_hash); i++) await nw.t.cmd('wait 50');
	check(nw.t.pushes.some((p) => p.payment_hash === c.payment_hash), 'no push for hold_invoice_accepted');
	const h = await state(c.payment_hash, nw.t);
	check(h.state === 'held' && h.received_msat === 21000, `after pay: ${JSON.stringify(h)}`);
	check(h.htlc_expiry_height === nw.wallet.height + 80, `settle_deadline ${h.htlc_expiry_height}`);
	const s = await nw.t.cmd(`settle ${c.payment_hash}`);
	check(s.ok === true, `settle: ${JSON.stringify(s)}`);
	check(sha(Buffer.from(tx.preimage, 'hex')) === c.payment_hash, 'the preimage the wallet got does not match');
	const settleReq = nw.wallet.log.find((e) => e.method === 'settle_hold_invoice');
	check(settleReq && settleReq.encryption === 'nip44_v2', 'settle not over NIP-44');
	check(settleReq.expiration > Date.now() / 1000 && settleReq.expiration < Date.now() / 1000 + 120,
		`settle request expiration tag ${settleReq.expiration}`);
	check((await state(c.payment_hash, nw.t)).state === 'paid', 'lookup after settle');
	const again = await nw.t.cmd(`settle ${c.payment_hash}`);
	check(again.ok === false && again.retryable === true && /failed to find accepted hold invoice/.test(again.error),
		`Alby's answer to a repeated settle: ${JSON.stringify(again)}`);
});

await rep.run('nwc_cancel_after_accept_and_unpaid_not_found', async () => {
	const c = await create(5000, nw.t);
	const u = await nw.t.cmd(`cancel ${c.payment_hash}`);
	check(u.ok === false && /NOT_FOUND/.test(u.error), `cancel of an unpaid invoice: ${JSON.stringify(u)}`);
	nw.wallet.pay(c.payment_hash);
	await sleep(100);
	const r = await nw.t.cmd(`cancel ${c.payment_hash}`);
	check(r.ok === true, `cancel after accept: ${JSON.stringify(r)}`);
	check((await state(c.payment_hash, nw.t)).state === 'failed', 'lookup after cancel');
	const s = await nw.t.cmd(`settle ${c.payment_hash}`);
	check(s.ok === false, 'settled after a cancel');
});

await rep.run('nwc_wallet_that_cannot_hold', async () => {
	const ni = await nwcTool({ holds: true, holdMode: 'not_implemented' });
	check(ni.cap.capable === 1, 'the info event lists the methods');
	const r = await ni.t.cmd(`create ${jobId()} 5000 600`);
	check(r.ok === false && /not implemented/.test(r.error), JSON.stringify(r));
	const { code, stderr } = await ni.t.stop();
	check(code === 0 && sanitizerClean(stderr), stderr.slice(-600));
	await ni.wallet.close();
});

await rep.run('nwc_clean_stop_no_secrets', async () => {
	const { code, stderr } = await nw.t.stop();
	check(code === 0 && sanitizerClean(stderr), `tool exit ${code}: ${stderr.slice(-600)}`);
	check(!stderr.includes(nw.wallet.clientSecret), 'the NWC secret in the log');
	for (const tx of nw.wallet.txs.values())
		if (tx.preimage) check(!stderr.includes(tx.preimage), 'a preimage in the log');
	await nw.wallet.close();
});

await relay.close();
clearTimeout(hardStop);
process.exit(rep.failed ? 1 : 0);
