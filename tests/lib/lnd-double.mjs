// lnd-double.mjs: a test double of LND's REST proxy (grpc-gateway), the
// invoice and hold-invoice calls an invoice macaroon may make.
//
// It reproduces, on the wire, what /work/shared/docs/payments.md §2.2 and
// hold-invoices.md §3 and §9 document (lightningnetwork/lnd@90ea05d5,
// lnrpc/lightning.yaml, lnrpc/invoicesrpc/invoices.yaml, lnrpc/rpc_utils.go):
//   POST /v1/invoices        AddInvoice {memo, value | value_msat, expiry, ...}
//                            -> {r_hash (base64), payment_request, add_index, payment_addr}
//   GET  /v1/invoice/{hex}   LookupInvoice -> Invoice
//   GET  /v1/invoices        ListInvoices ?num_max_invoices&reversed&index_offset
//                            -> {invoices, last_index_offset, first_index_offset}
//   POST /v2/invoices/hodl   AddHoldInvoice {hash, value | value_msat, memo, expiry,
//                            cltv_expiry, ...} -> {payment_request, add_index, payment_addr}
//                            (no r_hash); a known hash -> 500 code 2 "invoice with
//                            payment hash already exists"; cltv_expiry below 24 rejected
//   POST /v2/invoices/settle {preimage} -> {}; idempotent on SETTLED; 500 code 2
//                            "invoice still open" / "invoice already canceled" /
//                            "unable to locate invoice"
//   POST /v2/invoices/cancel {payment_hash} -> {}; OPEN or ACCEPTED -> CANCELED,
//                            idempotent on CANCELED; 500 "invoice already settled"
//   GET  /v2/invoices/lookup ?payment_hash=<base64, standard or URL-safe, padded>
//   GET  /v2/invoices/subscribe/{base64url} chunked lines {"result": Invoice}, the
//                            current state first, then every transition
//   GET  /v1/invoices/subscribe  the same for new and SETTLED invoices only: never
//                            ACCEPTED or CANCELED, as LND's all-invoices stream
//   unknown invoice -> 404 {"code":5,"message":"unable to locate invoice","details":[]}
//   any other path -> 404 {"code":5,"message":"Not Found","details":[]}
// JSON as LND marshals it: 64-bit integers as strings, int32 as numbers, bytes
// as standard base64, enums by name, every field present (EmitUnpopulated);
// request bodies with an unknown field -> 400 code 3 (protojson is strict).
// States OPEN -> SETTLED (normal, on payment) and OPEN -> ACCEPTED ->
// SETTLED | CANCELED (hold); OPEN -> CANCELED at expiry; an accepted hold is
// auto-cancelled at (lowest HTLC expiry_height - 18). r_preimage is "" for a
// hold invoice until settled; a normal invoice shows its preimage at once
// (LND made it), so it is no proof of payment.
//
// Auth: the Grpc-Metadata-macaroon header, hex. LND answers auth failures
// with HTTP 500 and code 2 (lnd#2332), and so does the double: none ->
// "expected 1 macaroon, got 0", another -> "verification failed: signature
// mismatch after caveat verification"; the macaroon is an invoice macaroon,
// so /v1/getinfo and /v1/balance/* -> "permission denied".
//
// Transport: HTTPS with a self-signed certificate made at start (openssl CLI,
// SAN IP:127.0.0.1 and DNS:localhost, as LND's tls.cert has); tls: false
// for plain http. Invoices are real signed BOLT11 (tests/lib/bolt11-mint.mjs)
// carrying the payment hash (ours, or the client's for a hold invoice).
//
// Module: const d = await startLndDouble({ network: 'regtest', dir })
//   d.url, d.certFile, d.certPem, d.macaroon (Buffer), d.macaroonHex,
//   d.pay(hash, msat?)   normal: SETTLED; hold: ACCEPTED with one HTLC
//   d.mine(n) / d.height  blocks (auto-cancel of accepted holds)
//   d.fail(n, mode)      next n API calls: mode '500' (code 2 error) or 'hang'
//   d.corrupt([body...], status)  the next API answers are these raw bodies
//   d.setInvoiceMode(mode, n)  'wrong_amount' | 'wrong_network' | 'wrong_hash'
//   d.invoices (Map hex hash -> invoice), d.log, d.counters, await d.close()
// CLI:    node tests/lib/lnd-double.mjs --dir DIR [--network regtest] writes
//         DIR/tls.cert and DIR/invoice.macaroon, prints "READY https://...".
import https from 'node:https';
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { OTHER_NETWORK, mintInvoice } from './bolt11-mint.mjs';
import { json, readBody, listenLocal } from './http-util.mjs';

const HOLD_EXPIRY_DELTA = 18;		// lncfg/invoices.go: invoices.holdexpirydelta
const DEFAULT_CLTV = 80;		// bitcoin.timelockdelta

// A self-signed certificate like LND's tls.cert (EC P-256, SANs for loopback).
export function makeCert(dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lnd-cert-'))) {
	const keyFile = path.join(dir, 'tls.key'), certFile = path.join(dir, 'tls.cert');
	execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
		'-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/O=lnd autogenerated cert/CN=localhost',
		'-addext', 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost'], { stdio: 'ignore' });
	return { dir, keyFile, certFile, keyPem: fs.readFileSync(keyFile), certPem: fs.readFileSync(certFile, 'utf8') };
}

const b64 = (buf) => Buffer.from(buf).toString('base64');
const str = (n) => String(n);
const grpcErr = (res, status, code, message) => json(res, status, { code, message, details: [] });

// grpc-gateway's runtime.Bytes: standard base64, then URL-safe, both padded.
function bytesParam(s) {
	for (const alpha of [/^[A-Za-z0-9+/]*={0,2}$/, /^[A-Za-z0-9_-]*={0,2}$/])
		if (alpha.test(s) && s.length % 4 === 0) return Buffer.from(s, 'base64');
	return null;
}

const ADD_INVOICE_FIELDS = ['memo', 'r_preimage', 'r_hash', 'value', 'value_msat', 'description_hash',
	'expiry', 'fallback_addr', 'cltv_expiry', 'route_hints', 'private', 'is_amp', 'is_blinded', 'blinded_path_config'];
const HOLD_FIELDS = ['memo', 'hash', 'value', 'value_msat', 'description_hash', 'expiry', 'fallback_addr',
	'cltv_expiry', 'route_hints', 'private'];

export async function startLndDouble(opts = {}) {
	const network = opts.network ?? 'regtest';
	const tls = opts.tls !== false;
	const cert = tls ? (opts.cert ?? makeCert(opts.dir)) : null;
	// A v2 macaroon starts with byte 0x02; the rest only has to be unguessable here.
	// opts.macaroon: fixed bytes (a test of an awkward last byte, say).
	const macaroon = opts.macaroon ??
		Buffer.concat([Buffer.from([0x02, 0x01]), crypto.randomBytes(opts.macaroonLen ?? 240)]);
	const macaroonHex = macaroon.toString('hex');
	const now = opts.now ?? (() => Date.now());
	const invoices = new Map();	// hex hash -> invoice state
	const log = [];
	const counters = { created: 0, holds: 0, lookups: 0, lists: 0, settles: 0, cancels: 0, denied: 0, failed: 0, hung: 0 };
	let height = opts.height ?? 800;
	let addIndex = 0, settleIndex = 0;
	let failure = { mode: 'none', count: 0 };
	const corrupt = [];	// raw answers for the next API calls: {status, body}
	let knob = { mode: 'ok', count: 0 };
	const hung = new Set();
	const secs = () => Math.floor(now() / 1000);

	// Streams: GET /v2/invoices/subscribe/{hash} (every transition of one
	// invoice, the current state first) and GET /v1/invoices/subscribe, which
	// like LND's carries only new (OPEN) and SETTLED invoices, never ACCEPTED
	// or CANCELED (invoiceregistry.go:1720-1740).
	const streams = new Set();	// {hash: hex | null, res}

	function changed(inv) {
		const line = JSON.stringify({ result: view(inv) }) + '\n';
		for (const st of streams) {
			if (st.hash === inv.hash.toString('hex') ||
			    (st.hash === null && (inv.state === 'OPEN' || inv.state === 'SETTLED')))
				st.res.write(line);
		}
	}

	function subscribe(req, res, hashHex) {
		res.writeHead(200, { 'content-type': 'application/json' });
		const st = { hash: hashHex, res };
		streams.add(st);
		req.on('close', () => streams.delete(st));
		if (hashHex !== null) res.write(JSON.stringify({ result: view(invoices.get(hashHex)) }) + '\n');
	}

	// Time and blocks move states on their own, as LND's expiry watcher does.
	function age(inv) {
		if (inv.state === 'OPEN' && secs() >= inv.created + inv.expiry) {
			inv.state = 'CANCELED';
			changed(inv);
		}
		if (inv.state === 'ACCEPTED') {
			const exp = Math.min(...inv.htlcs.filter((h) => h.state === 'ACCEPTED').map((h) => h.expiry_height));
			if (height >= exp - HOLD_EXPIRY_DELTA) cancel(inv);
		}
	}

	function cancel(inv) {
		inv.state = 'CANCELED';
		for (const h of inv.htlcs) if (h.state === 'ACCEPTED') { h.state = 'CANCELED'; h.resolve_time = secs(); }
		inv.amt_paid_msat = 0;
		changed(inv);
	}

	function settle(inv) {
		inv.state = 'SETTLED';
		inv.settle_date = secs();
		inv.settle_index = ++settleIndex;
		for (const h of inv.htlcs) { h.state = 'SETTLED'; h.resolve_time = secs(); }
		changed(inv);
	}

	function view(inv) {
		age(inv);
		const shown = inv.hold && inv.state !== 'SETTLED' ? '' : b64(inv.preimage);
		return {
			memo: inv.memo, r_preimage: shown, r_hash: b64(inv.hash),
			value: str(Math.floor(inv.value_msat / 1000)), value_msat: str(inv.value_msat),
			settled: inv.state === 'SETTLED', creation_date: str(inv.created),
			settle_date: str(inv.settle_date), payment_request: inv.payment_request,
			description_hash: '', expiry: str(inv.expiry), fallback_addr: '',
			cltv_expiry: str(inv.cltv_expiry), route_hints: [], private: inv.private,
			add_index: str(inv.add_index), settle_index: str(inv.settle_index),
			amt_paid: str(inv.amt_paid_msat), amt_paid_sat: str(Math.floor(inv.amt_paid_msat / 1000)),
			amt_paid_msat: str(inv.amt_paid_msat), state: inv.state,
			htlcs: inv.htlcs.map((h) => ({
				chan_id: '123145302310912', htlc_index: str(h.htlc_index), amt_msat: str(h.amt_msat),
				accept_height: h.accept_height, accept_time: str(h.accept_time),
				resolve_time: str(h.resolve_time), expiry_height: h.expiry_height, state: h.state,
				custom_records: {}, mpp_total_amt_msat: str(h.amt_msat), amp: null,
			})),
			features: {}, is_keysend: false, payment_addr: b64(inv.payment_addr), is_amp: false,
			amp_invoice_state: {},
		};
	}

	function nextMode() {
		if (knob.count <= 0) return 'ok';
		knob.count--;
		return knob.mode;
	}

	// int64 fields arrive as strings or numbers (protojson accepts both).
	function int64(v) {
		if (v === undefined) return 0;
		if (typeof v === 'number' && Number.isInteger(v)) return v;
		if (typeof v === 'string' && /^-?\d{1,19}$/.test(v)) return Number(v);
		return NaN;
	}

	async function parseBody(req, res, allowed) {
		let body;
		try { body = JSON.parse((await readBody(req)) || '{}'); } catch {
			grpcErr(res, 400, 3, 'proto: syntax error (line 1:1): unexpected token');
			return null;
		}
		if (typeof body !== 'object' || body === null || Array.isArray(body)) {
			grpcErr(res, 400, 3, 'proto: syntax error (line 1:1): unexpected token');
			return null;
		}
		const unknown = Object.keys(body).find((k) => !allowed.includes(k));
		if (unknown) {
			grpcErr(res, 400, 3, `proto: (line 1:2): unknown field "${unknown}"`);
			return null;
		}
		return body;
	}

	function amountOf(body, res) {
		const sat = int64(body.value), msat = int64(body.value_msat);
		if (Number.isNaN(sat) || Number.isNaN(msat)) { grpcErr(res, 400, 3, 'proto: invalid value for int64 field'); return null; }
		if (sat && msat) { grpcErr(res, 500, 2, 'value and value_msat are mutually exclusive'); return null; }
		return msat || sat * 1000;
	}

	function mint(inv) {
		const mode = nextMode();
		inv.mode = mode;
		return mintInvoice({
			network: mode === 'wrong_network' ? OTHER_NETWORK[network] : network,
			amountMsat: mode === 'wrong_amount' ? inv.value_msat + 1000 : inv.value_msat,
			memo: inv.memo, expiry: inv.expiry,
			paymentHash: mode === 'wrong_hash' ? crypto.randomBytes(32).toString('hex') : inv.hash.toString('hex'),
			timestamp: inv.created,
		});
	}

	function newInvoice(body, value_msat, hash, preimage, hold) {
		const expiry = int64(body.expiry) || 86400;
		const inv = {
			hash, preimage, hold, memo: body.memo ?? '', value_msat, expiry,
			cltv_expiry: int64(body.cltv_expiry) || DEFAULT_CLTV, created: secs(), settle_date: 0,
			add_index: ++addIndex, settle_index: 0, amt_paid_msat: 0, state: 'OPEN', htlcs: [],
			private: body.private === true,
			payment_addr: crypto.randomBytes(32),
		};
		inv.payment_request = mint(inv);
		invoices.set(hash.toString('hex'), inv);
		changed(inv);
		return inv;
	}

	async function addInvoice(req, res) {
		const body = await parseBody(req, res, ADD_INVOICE_FIELDS);
		if (!body) return;
		const msat = amountOf(body, res);
		if (msat === null) return;
		const preimage = crypto.randomBytes(32);
		const hash = crypto.createHash('sha256').update(preimage).digest();
		const inv = newInvoice(body, msat, hash, preimage, false);
		counters.created++;
		json(res, 200, { r_hash: b64(hash), payment_request: inv.payment_request,
			add_index: str(inv.add_index), payment_addr: b64(inv.payment_addr) });
	}

	async function addHold(req, res) {
		const body = await parseBody(req, res, HOLD_FIELDS);
		if (!body) return;
		const hash = typeof body.hash === 'string' ? bytesParam(body.hash) : null;
		if (!hash || hash.length !== 32) return grpcErr(res, 500, 2, 'invalid hash length');
		const msat = amountOf(body, res);
		if (msat === null) return;
		const cltv = int64(body.cltv_expiry);
		if (cltv && cltv < 24) return grpcErr(res, 500, 2, `final cltv delta ${cltv} is less than the minimum 24`);
		if (invoices.has(hash.toString('hex'))) return grpcErr(res, 500, 2, 'invoice with payment hash already exists');
		const inv = newInvoice(body, msat, hash, null, true);
		counters.holds++;
		json(res, 200, { payment_request: inv.payment_request, add_index: str(inv.add_index),
			payment_addr: b64(inv.payment_addr) });
	}

	async function settleHold(req, res) {
		const body = await parseBody(req, res, ['preimage']);
		if (!body) return;
		const pre = typeof body.preimage === 'string' ? bytesParam(body.preimage) : null;
		if (!pre || pre.length !== 32) return grpcErr(res, 500, 2, 'invalid preimage length');
		const hash = crypto.createHash('sha256').update(pre).digest('hex');
		const inv = invoices.get(hash);
		counters.settles++;
		if (!inv || !inv.hold) return grpcErr(res, 500, 2, 'unable to locate invoice');
		age(inv);
		if (inv.state === 'OPEN') return grpcErr(res, 500, 2, 'invoice still open');
		if (inv.state === 'CANCELED') return grpcErr(res, 500, 2, 'invoice already canceled');
		if (inv.state === 'ACCEPTED') { inv.preimage = pre; settle(inv); }
		json(res, 200, {});
	}

	async function cancelHold(req, res) {
		const body = await parseBody(req, res, ['payment_hash']);
		if (!body) return;
		const h = typeof body.payment_hash === 'string' ? bytesParam(body.payment_hash) : null;
		const inv = h && h.length === 32 ? invoices.get(h.toString('hex')) : null;
		counters.cancels++;
		if (!inv) return grpcErr(res, 500, 2, 'unable to locate invoice');
		age(inv);
		if (inv.state === 'SETTLED') return grpcErr(res, 500, 2, 'invoice already settled');
		if (inv.state !== 'CANCELED') cancel(inv);
		json(res, 200, {});
	}

	function lookup(res, hashHex) {
		counters.lookups++;
		const inv = hashHex && invoices.get(hashHex);
		if (!inv) return grpcErr(res, 404, 5, 'unable to locate invoice');
		json(res, 200, view(inv));
	}

	function list(res, q) {
		counters.lists++;
		let all = [...invoices.values()].sort((a, b) => a.add_index - b.add_index);
		if (q.get('reversed') === 'true') all.reverse();
		const max = Number(q.get('num_max_invoices') || 100);
		all = all.slice(0, max);
		json(res, 200, { invoices: all.map(view),
			last_index_offset: str(all.length ? all[all.length - 1].add_index : 0),
			first_index_offset: str(all.length ? all[0].add_index : 0) });
	}

	function injectFailure(res) {
		if (corrupt.length) {
			const c = corrupt.shift();
			res.writeHead(c.status, { 'content-type': 'application/json' });
			res.end(c.body);
			return true;
		}
		if (failure.count <= 0) return false;
		failure.count--;
		if (failure.mode === 'hang') { counters.hung++; hung.add(res); return true; }
		counters.failed++;
		grpcErr(res, 500, 2, 'injected failure (test double)');
		return true;
	}

	async function handle(req, res) {
		const url = new URL(req.url, 'http://127.0.0.1');
		const p = url.pathname, m = req.method;
		const entry = { method: m, path: p, query: url.search, t: now(), status: 0, auth: 'ok' };
		log.push(entry);
		res.on('finish', () => { entry.status = res.statusCode; });
		const mac = req.headers['grpc-metadata-macaroon'];
		if (mac === undefined) { entry.auth = 'none'; counters.denied++; return grpcErr(res, 500, 2, 'expected 1 macaroon, got 0'); }
		if (String(mac).toLowerCase() !== macaroonHex) {
			entry.auth = 'wrong';
			counters.denied++;
			return grpcErr(res, 500, 2, 'verification failed: signature mismatch after caveat verification');
		}
		if (m === 'GET' && (p === '/v1/getinfo' || p.startsWith('/v1/balance/'))) {
			entry.auth = 'denied';
			counters.denied++;
			return grpcErr(res, 500, 2, 'permission denied');
		}
		let r;
		const route =
			m === 'POST' && p === '/v1/invoices' ? () => addInvoice(req, res)
			: m === 'GET' && p === '/v1/invoices' ? () => list(res, url.searchParams)
			: m === 'GET' && (r = p.match(/^\/v1\/invoice\/([0-9a-fA-F]{64})$/)) ? () => lookup(res, r[1].toLowerCase())
			: m === 'GET' && p === '/v2/invoices/lookup' ? () => {
				const h = bytesParam(url.searchParams.get('payment_hash') ?? '');
				lookup(res, h && h.length === 32 ? h.toString('hex') : null);
			}
			: m === 'GET' && (r = p.match(/^\/v2\/invoices\/subscribe\/([A-Za-z0-9_%=+/-]+)$/)) ? () => {
				const h = bytesParam(decodeURIComponent(r[1]));
				const hex = h && h.length === 32 ? h.toString('hex') : null;
				if (!hex || !invoices.has(hex)) return grpcErr(res, 404, 5, 'unable to locate invoice');
				subscribe(req, res, hex);
			}
			: m === 'GET' && p === '/v1/invoices/subscribe' ? () => subscribe(req, res, null)
			: m === 'POST' && p === '/v2/invoices/hodl' ? () => addHold(req, res)
			: m === 'POST' && p === '/v2/invoices/settle' ? () => settleHold(req, res)
			: m === 'POST' && p === '/v2/invoices/cancel' ? () => cancelHold(req, res)
			: null;
		if (!route) return grpcErr(res, 404, 5, 'Not Found');
		if (injectFailure(res)) return;
		return route();
	}

	const onReq = (req, res) => {
		handle(req, res).catch((e) => { if (!res.headersSent) grpcErr(res, 500, 2, String(e.message ?? e)); });
	};
	const server = tls ? https.createServer({ key: cert.keyPem, cert: cert.certPem }, onReq) : http.createServer(onReq);
	let tlsErrors = 0;
	server.on('tlsClientError', () => { tlsErrors++; });
	const listener = await listenLocal(server, opts.port ?? 0);
	const port = listener.port;

	return {
		url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, port, network,
		certFile: cert?.certFile, certPem: cert?.certPem, macaroon, macaroonHex,
		invoices, log, counters,
		get tlsErrors() { return tlsErrors; },
		get height() { return height; },
		// A payer's HTLCs arrive: a normal invoice settles, a hold is held.
		pay(hashHex, amountMsat) {
			const inv = invoices.get(hashHex);
			if (!inv) throw new Error('unknown payment hash');
			age(inv);
			if (inv.state !== 'OPEN') throw new Error(`invoice is ${inv.state}`);
			const amt = amountMsat ?? inv.value_msat;
			inv.htlcs.push({ htlc_index: inv.htlcs.length, amt_msat: amt, accept_height: height,
				accept_time: secs(), resolve_time: 0, expiry_height: height + inv.cltv_expiry, state: 'ACCEPTED' });
			inv.amt_paid_msat = amt;
			if (inv.hold) {
				inv.state = 'ACCEPTED';
				changed(inv);
			} else settle(inv);
		},
		mine(n = 1) { height += n; for (const inv of invoices.values()) age(inv); },
		state(hashHex) { const inv = invoices.get(hashHex); if (inv) age(inv); return inv?.state; },
		fail(n = 1, mode = '500') { failure = { mode, count: n }; },
		// The next API answers are these raw bodies (hostile or broken LND).
		corrupt(bodies, status = 200) { for (const b of bodies) corrupt.push({ status, body: b }); },
		setInvoiceMode(mode, count = Infinity) { knob = { mode, count }; },
		close() {
			for (const r of hung) r.destroy?.();
			for (const st of streams) st.res.destroy();
			return listener.close();
		},
	};
}

// CLI, for the shell tests: writes DIR/tls.cert and DIR/invoice.macaroon
// (binary, mode 0600), prints "READY https://127.0.0.1:PORT", runs until
// SIGTERM.
async function cli() {
	const args = process.argv.slice(2);
	let dir = null, network = 'regtest';
	for (let i = 0; i < args.length; i++) {
		if (args[i] === '--dir') dir = args[++i];
		else if (args[i] === '--network') network = args[++i];
		else { console.error('usage: lnd-double.mjs --dir DIR [--network regtest]'); process.exit(100); }
	}
	if (!dir) { console.error('usage: lnd-double.mjs --dir DIR [--network regtest]'); process.exit(100); }
	const d = await startLndDouble({ network, dir });
	fs.writeFileSync(path.join(dir, 'invoice.macaroon'), d.macaroon, { mode: 0o600 });
	console.log(`READY ${d.url}`);
	const stop = () => d.close().then(() => process.exit(0));
	process.on('SIGTERM', stop);
	process.on('SIGINT', stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) cli();
