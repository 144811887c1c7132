// lnbits-double.mjs: a test double of LNbits' wallet API.
//
// It reproduces LNbits' documented HTTP API (lnbits/lnbits@7d98c6b0,
// lnbits/core/views/payment_api.py, models/payments.py, decorators.py; see
// /work/shared/docs/payments.md §2.1) on the wire:
//   POST /api/v1/payments {"out":false,"amount":<sats>,"unit":"sat","memo","expiry"}
//        -> 201 Payment {checking_id, payment_hash, wallet_id, amount (msat), fee,
//           bolt11, payment_request, status "pending", memo, expiry (ISO), webhook,
//           preimage, extra, time, created_at, updated_at, labels}
//   GET  /api/v1/payments/{hash} -> {"paid", "status", "preimage", "details": Payment}
//        ("details" only with a key of the owning wallet), 404 {"detail":"Payment does not exist."}
//   GET  /api/v1/wallet -> {"id", "name", "balance" (msat)}
//   Auth: header X-Api-Key (any case) or ?api-key=; none -> 401
//   {"detail":"No Api Key provided."}; unknown -> 404 {"detail":"Wallet not found."};
//   the invoice key with "out":true -> 403 {"detail":"Invoice (or Admin) key required."};
//   backend failures -> 520 {"detail": ...}; FastAPI validation errors -> 422.
// Like LNbits, it returns the preimage before payment (it knows it): a client
// must decide on "paid" alone.
//
// The invoices are REAL BOLT11 strings (tests/lib/bolt11-mint.mjs), signed
// with the BOLT11 spec's test node key, with the network prefix of
// opts.network, a payee `n` field, the current timestamp and the requested
// expiry, so the client's own decoder and signature check run for real.
//
// Test-only endpoints (no auth):
//   POST /_test/pay/{hash}      {"amount_msat"?}  mark paid (amount defaults to the invoice's)
//   POST /_test/expire/{hash}   mark failed (LNbits' state for an expired incoming invoice)
//   POST /_test/fail            {"mode":"520"|"timeout"|"none","count":N,"only"?:"create"|"lookup"|"wallet"}
//                               the next N API calls (of that kind) fail with 520 or hang
//   POST /_test/invoice         {"mode":"ok"|"wrong_amount"|"wrong_network"|"bad_signature"|"wrong_hash","count"?:N}
//                               the next N created invoices (default: all) are defective
//   GET  /_test/log             the request log [{method, path, status, kind, t}] and counters
//
// Module: startLnbitsDouble({port, network, apiKey, nodeKey}) -> {url, port, apiKey, close(), ...}
// CLI:    node tests/lib/lnbits-double.mjs [--port N] [--network regtest] [--key-file PATH]
//         prints "READY http://127.0.0.1:PORT" then "APIKEY <key>".

import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { NETWORKS, OTHER_NETWORK, SPEC_NODE_KEY, mintInvoice, corruptSignature, nodePubkey }
	from './bolt11-mint.mjs';
import { fileURLToPath } from 'node:url';
import { json, readBody, listenLocal } from './http-util.mjs';

export { SPEC_NODE_KEY, SPEC_NODE_ID, mintInvoice, corruptSignature } from './bolt11-mint.mjs';

export async function startLnbitsDouble(opts = {}) {
	const network = opts.network ?? 'regtest';
	if (!NETWORKS[network]) throw new Error(`unknown network ${network}`);
	const apiKey = opts.apiKey ?? crypto.randomBytes(16).toString('hex');
	const walletId = crypto.randomBytes(16).toString('hex');
	const nodeKey = opts.nodeKey ?? SPEC_NODE_KEY;
	const now = opts.now ?? (() => Date.now());
	const payments = new Map();	// payment_hash -> state
	const log = [];
	const counters = { created: 0, lookups: 0, wallet: 0, failed: 0, hung: 0 };
	let fail = { mode: 'none', count: 0, only: null };
	let knob = { mode: 'ok', count: Infinity };
	let balanceMsat = opts.balanceMsat ?? 21_000_000;
	const hung = new Set();

	const iso = (ms) => new Date(ms).toISOString();

	function paymentObject(p) {
		return {
			checking_id: p.hash,
			payment_hash: p.hash,
			wallet_id: walletId,
			amount: p.paid ? p.receivedMsat : p.amountMsat,
			fee: 0,
			bolt11: p.bolt11,
			payment_request: p.bolt11,
			status: p.status,
			memo: p.memo,
			expiry: iso(p.createdMs + p.expiry * 1000),
			webhook: null,
			webhook_status: null,
			preimage: p.preimage,
			tag: null,
			extension: null,
			extra: {},
			time: iso(p.createdMs),
			created_at: iso(p.createdMs),
			updated_at: iso(p.updatedMs),
			labels: [],
		};
	}

	// Which API call this is, for fail injection and the log.
	function kindOf(method, path) {
		if (method === 'POST' && path === '/api/v1/payments') return 'create';
		if (method === 'GET' && path.startsWith('/api/v1/payments/')) return 'lookup';
		if (method === 'GET' && path === '/api/v1/wallet') return 'wallet';
		return 'other';
	}

	function keyOf(req, url) {
		for (const [k, v] of Object.entries(req.headers))
			if (k.toLowerCase() === 'x-api-key') return v;
		return url.searchParams.get('api-key');
	}

	function injectFailure(kind, res) {
		if (fail.mode === 'none' || fail.count <= 0) return false;
		if (fail.only && fail.only !== kind) return false;
		fail.count--;
		if (fail.mode === '520') {
			counters.failed++;
			json(res, 520, { detail: 'Injected backend failure (test double).' });
			return true;
		}
		if (fail.mode === 'timeout') {
			counters.hung++;
			hung.add(res);	// never answered; destroyed on close()
			return true;
		}
		return false;
	}

	function nextInvoiceMode() {
		if (knob.count <= 0) return 'ok';
		knob.count--;
		return knob.mode;
	}

	async function create(req, res) {
		let body;
		try {
			body = JSON.parse(await readBody(req));
		} catch {
			return json(res, 422, { detail: [{ loc: ['body'], msg: 'JSON decode error', type: 'value_error.jsondecode' }] });
		}
		if (body.out === true)
			return json(res, 403, { detail: 'Invoice (or Admin) key required.' });
		if (typeof body.amount !== 'number' || !(body.amount >= 0))
			return json(res, 422, { detail: [{ loc: ['body', 'amount'], msg: 'field required', type: 'value_error.missing' }] });
		const unit = body.unit ?? 'sat';
		if (unit !== 'sat')
			return json(res, 400, { detail: 'The test double supports unit "sat" only.' });
		const amountMsat = Math.round(body.amount) * 1000;	// LNbits: int(amount) sats
		if (amountMsat <= 0)
			return json(res, 400, { detail: 'Amountless invoices not supported.' });
		const expiry = Number.isInteger(body.expiry) && body.expiry > 0 ? body.expiry : 3600;
		const memo = typeof body.memo === 'string' ? body.memo : '';
		const preimage = crypto.randomBytes(32);
		const hash = crypto.createHash('sha256').update(preimage).digest('hex');
		const mode = nextInvoiceMode();
		let bolt = mintInvoice({
			network: mode === 'wrong_network' ? OTHER_NETWORK[network] : network,
			amountMsat: mode === 'wrong_amount' ? amountMsat + 1000 : amountMsat,
			memo, expiry, nodeKey,
			paymentHash: mode === 'wrong_hash' ? crypto.randomBytes(32).toString('hex') : hash,
			timestamp: Math.floor(now() / 1000),
		});
		if (mode === 'bad_signature') bolt = corruptSignature(bolt);
		const t = now();
		const p = {
			hash, bolt11: bolt, amountMsat, receivedMsat: 0, memo, expiry,
			preimage: preimage.toString('hex'), status: 'pending', paid: false,
			createdMs: t, updatedMs: t, mode,
		};
		payments.set(hash, p);
		counters.created++;
		json(res, 201, paymentObject(p));
	}

	function lookup(res, hash, ownKey) {
		const p = payments.get(hash);
		if (!p) return json(res, 404, { detail: 'Payment does not exist.' });
		const out = { paid: p.paid, status: p.status, preimage: p.preimage };
		if (ownKey) out.details = paymentObject(p);
		json(res, 200, out);
	}

	async function testRoute(req, res, url) {
		const path = url.pathname;
		let body = {};
		if (req.method === 'POST') {
			const text = await readBody(req);
			if (text) {
				try { body = JSON.parse(text); } catch { return json(res, 400, { error: 'bad json' }); }
			}
		}
		let m;
		if (req.method === 'POST' && (m = path.match(/^\/_test\/pay\/([0-9a-f]{64})$/))) {
			const p = payments.get(m[1]);
			if (!p) return json(res, 404, { error: 'unknown hash' });
			p.paid = true;
			p.status = 'success';
			p.receivedMsat = Number.isInteger(body.amount_msat) ? body.amount_msat : p.amountMsat;
			p.updatedMs = now();
			balanceMsat += p.receivedMsat;
			return json(res, 200, { ok: true, amount_msat: p.receivedMsat });
		}
		if (req.method === 'POST' && (m = path.match(/^\/_test\/expire\/([0-9a-f]{64})$/))) {
			const p = payments.get(m[1]);
			if (!p) return json(res, 404, { error: 'unknown hash' });
			p.status = 'failed';
			p.updatedMs = now();
			return json(res, 200, { ok: true });
		}
		if (req.method === 'POST' && path === '/_test/fail') {
			if (!['520', 'timeout', 'none'].includes(body.mode)) return json(res, 400, { error: 'mode' });
			fail = { mode: body.mode, count: Number.isInteger(body.count) ? body.count : 1, only: body.only ?? null };
			return json(res, 200, { ok: true });
		}
		if (req.method === 'POST' && path === '/_test/invoice') {
			const modes = ['ok', 'wrong_amount', 'wrong_network', 'bad_signature', 'wrong_hash'];
			if (!modes.includes(body.mode)) return json(res, 400, { error: 'mode' });
			knob = { mode: body.mode, count: Number.isInteger(body.count) ? body.count : Infinity };
			return json(res, 200, { ok: true });
		}
		if (req.method === 'GET' && path === '/_test/log') {
			return json(res, 200, {
				log, counters,
				payments: [...payments.values()].map((p) => ({
					payment_hash: p.hash, bolt11: p.bolt11, amount_msat: p.amountMsat,
					status: p.status, paid: p.paid, memo: p.memo, mode: p.mode,
				})),
			});
		}
		json(res, 404, { error: 'unknown test endpoint' });
	}

	async function handle(req, res) {
		const url = new URL(req.url, 'http://127.0.0.1');
		const path = url.pathname;
		if (path.startsWith('/_test/')) return testRoute(req, res, url);
		const kind = kindOf(req.method, path);
		const entry = { method: req.method, path, kind, t: now(), status: 0 };
		log.push(entry);
		res.on('finish', () => { entry.status = res.statusCode; });
		if (kind === 'other') return json(res, 404, { detail: 'Not Found' });
		const key = keyOf(req, url);
		if (!key) return json(res, 401, { detail: 'No Api Key provided.' });
		if (key !== apiKey) return json(res, 404, { detail: 'Wallet not found.' });
		if (injectFailure(kind, res)) return;
		if (kind === 'create') return create(req, res);
		if (kind === 'lookup') {
			counters.lookups++;
			return lookup(res, path.slice('/api/v1/payments/'.length), true);
		}
		counters.wallet++;
		json(res, 200, { id: walletId, name: 'test wallet', balance: balanceMsat });
	}

	const server = http.createServer((req, res) => {
		handle(req, res).catch((e) => {
			if (!res.headersSent) json(res, 500, { detail: String(e.message ?? e) });
		});
	});
	const listener = await listenLocal(server, opts.port ?? 0);
	const port = listener.port;
	const url = `http://127.0.0.1:${port}`;

	return {
		url, port, apiKey, network, nodeId: nodePubkey(nodeKey),
		log, counters, payments,
		pay(hash, amountMsat) {
			const p = payments.get(hash);
			if (!p) throw new Error('unknown hash');
			p.paid = true; p.status = 'success';
			p.receivedMsat = amountMsat ?? p.amountMsat; p.updatedMs = now();
		},
		expire(hash) { const p = payments.get(hash); if (p) p.status = 'failed'; },
		setFail(mode, count = 1, only = null) { fail = { mode, count, only }; },
		setInvoiceMode(mode, count = Infinity) { knob = { mode, count }; },
		close() {
			for (const r of hung) r.destroy?.();
			return listener.close();
		},
	};
}

async function cli() {
	const args = process.argv.slice(2);
	const opts = {};
	let keyFile = null;
	for (let i = 0; i < args.length; i++) {
		const a = args[i];
		if (a === '--port') opts.port = Number(args[++i]);
		else if (a === '--network') opts.network = args[++i];
		else if (a === '--api-key') opts.apiKey = args[++i];
		else if (a === '--key-file') keyFile = args[++i];
		else {
			console.error('usage: lnbits-double.mjs [--port N] [--network bitcoin|testnet|signet|regtest] [--api-key K] [--key-file PATH]');
			process.exit(100);
		}
	}
	const d = await startLnbitsDouble(opts);
	if (keyFile) fs.writeFileSync(keyFile, d.apiKey + '\n', { mode: 0o600 });
	console.log(`READY ${d.url}`);
	console.log(`APIKEY ${d.apiKey}`);
	const stop = () => d.close().then(() => process.exit(0));
	process.on('SIGTERM', stop);
	process.on('SIGINT', stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) cli();
