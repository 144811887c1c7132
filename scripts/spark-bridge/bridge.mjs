#!/usr/bin/env node
// spark-bridge: lets invoiced (C, libcurl) receive Lightning payments into a
// Spark wallet. Spark has no daemon or REST API; the official JS SDK
// (@buildonspark/spark-sdk, pinned in package.json) is the only client, so
// this small process owns the mnemonic and the SparkWallet and serves the
// endpoints and shapes of LNbits' Spark sidecar (payments.md §1.4-1.5):
//
//   POST /v1/invoices      {"amount_sats", "memo"?, "expiry_seconds"}
//        -> 201 {"checking_id", "payment_request", "payment_hash", "status",
//                "amount_msat", "expires_at", "preimage"}
//   GET  /v1/invoices/{id} -> 200 {"checking_id", "status", "paid", "payment_hash",
//                "amount_msat" (received, once paid), "invoice_amount_msat",
//                "expires_at", "preimage"}; 404 {"error":"Not found"}
//   POST /v1/balance       -> 200 {"balance_sats", "balance_msat"} (decimal strings)
//   errors: 400/401/404 {"error"}; the SDK failing -> 502 {"error"}
//
// Paid rule (LNbits' strict one): the receive request's status is in the paid
// set AND the exact incoming transfer (request.transfer.sparkId) is INCOMING
// and TRANSFER_STATUS_COMPLETED. Until then the status is reported as
// WAITING_FOR_FUNDS: a wallet-wide balance change proves nothing about one
// invoice, and a preimage is not proof either (our own wallet made it).
// Invoices always get an explicit expiry and never a Spark-address fallback
// (a payer using it would pay outside the invoice).
//
// Usage: node bridge.mjs --listen unix:/path | --listen 127.0.0.1:8765
//                        --mnemonic-file FILE (mode 0600) [--network MAINNET|REGTEST]
//                        [--account N] [--api-key-file FILE] [--notify-fd N]
//                        [--socket-mode 600|660]
// --notify-fd N: write a newline to fd N once listening, then close it (the
// readiness rule of the daemons, so scripts/dvm and s6 can supervise it).
// --socket-mode 660: let the socket's group connect (scripts/dvm runs the
// bridge as its own user and puts invoiced's user in that group).
// Exit 100 on bad usage or an unsafe/missing secret file, 111 if the wallet
// cannot be initialised or the address cannot be bound; 0 on SIGTERM/SIGINT.
import http from 'node:http';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PAID = new Set(['TRANSFER_COMPLETED', 'LIGHTNING_PAYMENT_RECEIVED', 'PAYMENT_PREIMAGE_RECOVERED']);
const MAX_BODY = 64 * 1024;
const MAX_EXPIRY = 30 * 86400;

const UNIT_MSAT = {
	MILLISATOSHI: 1n, SATOSHI: 1000n, NANOBITCOIN: 100n, MICROBITCOIN: 100000n,
	MILLIBITCOIN: 100000000n, BITCOIN: 100000000000n,
};

// CurrencyAmount {originalValue, originalUnit} -> msat (BigInt). Never assume sats.
export function toMsat(amount) {
	if (!amount || amount.originalValue === undefined) return null;
	const mult = UNIT_MSAT[amount.originalUnit];
	if (mult === undefined) throw new Error(`unknown currency unit ${amount.originalUnit}`);
	return BigInt(amount.originalValue) * mult;
}

const epoch = (iso) => (iso ? Math.floor(new Date(iso).getTime() / 1000) : null);

// Secret files: regular, not a symlink, no group/other bits (like invoiced's).
export function readSecretFile(file) {
	const st = fs.lstatSync(file);
	if (st.isSymbolicLink()) throw new Error(`${file}: is a symbolic link; point at the real file`);
	if (!st.isFile()) throw new Error(`${file}: not a regular file`);
	if (st.mode & 0o077)
		throw new Error(`${file}: secret file is accessible by group or others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}); fix with: chmod 600 ${file}`);
	return fs.readFileSync(file, 'utf8').trim();
}

function send(res, status, body) {
	const s = JSON.stringify(body, (k, v) => (typeof v === 'bigint' ? v.toString() : v));
	res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
	res.end(s);
}

function readJson(req) {
	return new Promise((resolve, reject) => {
		let len = 0;
		const parts = [];
		req.on('data', (c) => {
			len += c.length;
			if (len > MAX_BODY) { reject(Object.assign(new Error('body too large'), { status: 413 })); req.destroy(); return; }
			parts.push(c);
		});
		req.on('end', () => {
			const text = Buffer.concat(parts).toString('utf8');
			try { resolve(text ? JSON.parse(text) : {}); } catch { reject(Object.assign(new Error('body is not JSON'), { status: 400 })); }
		});
		req.on('error', reject);
	});
}

// The request handler around a wallet object with the SparkWallet methods used
// here: createLightningInvoice, getLightningReceiveRequest, getTransfer, getBalance.
export function createBridge({ wallet, apiKey = null, log = () => {} }) {
	async function createInvoice(body) {
		const sats = body.amount_sats, expiry = body.expiry_seconds;
		if (!Number.isSafeInteger(sats) || sats <= 0) return [400, { error: 'amount_sats must be a positive integer' }];
		if (!Number.isSafeInteger(expiry) || expiry <= 0 || expiry > MAX_EXPIRY)
			return [400, { error: `expiry_seconds must be 1..${MAX_EXPIRY}` }];
		if (body.memo !== undefined && (typeof body.memo !== 'string' || body.memo.length > 639))
			return [400, { error: 'memo must be a string of at most 639 characters' }];
		const r = await wallet.createLightningInvoice({
			amountSats: sats, memo: body.memo ?? '', expirySeconds: expiry,
			includeSparkAddress: false, includeSparkInvoice: false,
		});
		const inv = r.invoice ?? {};
		log(`invoice ${r.id}: ${sats} sat, expires ${inv.expiresAt}`);
		return [201, {
			checking_id: r.id, payment_request: inv.encodedInvoice, payment_hash: inv.paymentHash,
			status: r.status, amount_msat: toMsat(inv.amount), expires_at: epoch(inv.expiresAt),
			preimage: r.paymentPreimage ?? null,
		}];
	}

	// LNbits' rule: the invoice's own incoming transfer must be complete.
	async function transferComplete(r) {
		const id = r.transfer?.sparkId;
		if (!id) return null;
		const t = await wallet.getTransfer(id);
		if (!t || t.transferDirection !== 'INCOMING' || t.status !== 'TRANSFER_STATUS_COMPLETED') return null;
		return t;
	}

	async function lookup(id) {
		const r = await wallet.getLightningReceiveRequest(id);
		if (!r) return [404, { error: 'Not found' }];
		const inv = r.invoice ?? {};
		let status = r.status, paid = false, received = null;
		if (PAID.has(status)) {
			const t = await transferComplete(r);
			if (t) {
				paid = true;
				received = r.transfer?.totalAmount ? toMsat(r.transfer.totalAmount)
					: t.totalValue !== undefined ? BigInt(t.totalValue) * 1000n : null;
				if (received === null) paid = false;
			}
			if (!paid) status = 'WAITING_FOR_FUNDS';
		}
		const out = {
			checking_id: r.id, status, paid, payment_hash: inv.paymentHash,
			invoice_amount_msat: toMsat(inv.amount), expires_at: epoch(inv.expiresAt),
			preimage: r.paymentPreimage ?? null,
		};
		if (paid) out.amount_msat = received;
		return [200, out];
	}

	async function balance() {
		const b = await wallet.getBalance();
		const sats = BigInt(b.satsBalance?.available ?? b.balance ?? 0n);
		return [200, { balance_sats: sats.toString(), balance_msat: (sats * 1000n).toString() }];
	}

	return async function handle(req, res) {
		try {
			if (apiKey !== null && req.headers['x-api-key'] !== apiKey)
				return send(res, 401, { error: 'Unauthorized' });
			const url = new URL(req.url, 'http://bridge');
			let m;
			if (req.method === 'POST' && url.pathname === '/v1/invoices')
				return send(res, ...(await createInvoice(await readJson(req))));
			if (req.method === 'GET' && (m = url.pathname.match(/^\/v1\/invoices\/([^/]{1,200})$/)))
				return send(res, ...(await lookup(decodeURIComponent(m[1]))));
			if (req.method === 'POST' && url.pathname === '/v1/balance')
				return send(res, ...(await balance()));
			send(res, 404, { error: 'Not found' });
		} catch (e) {
			if (e.status) return send(res, e.status, { error: e.message });
			log(`wallet error: ${e.message ?? e}`);
			send(res, 502, { error: String(e.message ?? e).slice(0, 300) });
		}
	};
}

// Listen on "unix:/path" (mode 0600 or as given, a stale socket removed) or
// "host:port".
export async function listen(handler, where, mode = 0o600) {
	const server = http.createServer(handler);
	if (where.startsWith('unix:')) {
		const p = where.slice(5);
		try { if (fs.statSync(p).isSocket()) fs.unlinkSync(p); } catch { /* none */ }
		await new Promise((resolve, reject) => { server.once('error', reject); server.listen(p, resolve); });
		fs.chmodSync(p, mode);
	} else {
		const i = where.lastIndexOf(':');
		await new Promise((resolve, reject) => {
			server.once('error', reject);
			server.listen(Number(where.slice(i + 1)), where.slice(0, i) || '127.0.0.1', resolve);
		});
	}
	return server;
}

function parseArgs(argv) {
	const o = { network: 'MAINNET', account: null, listen: null, mnemonicFile: null, apiKeyFile: null,
		notifyFd: null, socketMode: 0o600 };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i], v = argv[i + 1];
		if (a === '--listen') { o.listen = v; i++; }
		else if (a === '--mnemonic-file') { o.mnemonicFile = v; i++; }
		else if (a === '--network') { o.network = v; i++; }
		else if (a === '--account') { o.account = Number(v); i++; }
		else if (a === '--api-key-file') { o.apiKeyFile = v; i++; }
		else if (a === '--notify-fd') { o.notifyFd = Number(v); i++; }
		else if (a === '--socket-mode') {
			if (v !== '600' && v !== '660') throw new Error('--socket-mode must be 600 or 660');
			o.socketMode = parseInt(v, 8); i++;
		}
		else throw new Error(`unknown argument ${a}`);
	}
	if (!o.listen || !o.mnemonicFile) throw new Error('--listen and --mnemonic-file are required');
	if (!['MAINNET', 'REGTEST'].includes(o.network)) throw new Error('--network must be MAINNET or REGTEST');
	// The same mnemonic gives different wallets per account; never rely on the default.
	if (o.account === null) o.account = o.network === 'REGTEST' ? 0 : 1;
	if (!Number.isInteger(o.account) || o.account < 0) throw new Error('--account must be an integer >= 0');
	if (o.notifyFd !== null && (!Number.isInteger(o.notifyFd) || o.notifyFd < 3))
		throw new Error('--notify-fd must be an integer >= 3');
	return o;
}

async function main() {
	const log = (m) => process.stderr.write(`spark-bridge: ${m}\n`);
	// Node's default for SIGHUP is to die; the launcher sends HUP to every stage.
	process.on('SIGHUP', () => log('SIGHUP: nothing to re-read (restart to change the wallet or address)'));
	let o, mnemonic, apiKey = null;
	try {
		o = parseArgs(process.argv.slice(2));
		mnemonic = readSecretFile(o.mnemonicFile);
		if (o.apiKeyFile) apiKey = readSecretFile(o.apiKeyFile);
	} catch (e) {
		log(e.message);
		log('usage: bridge.mjs --listen unix:/path|host:port --mnemonic-file FILE [--network MAINNET|REGTEST] [--account N] [--api-key-file FILE] [--notify-fd N] [--socket-mode 600|660]');
		process.exit(100);
	}
	let wallet;
	try {
		const { SparkWallet } = await import('@buildonspark/spark-sdk');
		({ wallet } = await SparkWallet.initialize({
			mnemonicOrSeed: mnemonic, accountNumber: o.account, options: { network: o.network },
		}));
	} catch (e) {
		log(`cannot initialise the Spark wallet: ${e.message ?? e}`);
		process.exit(111);
	}
	mnemonic = null;
	let server;
	try {
		server = await listen(createBridge({ wallet, apiKey, log }), o.listen, o.socketMode);
	} catch (e) {
		log(`cannot listen on ${o.listen}: ${e.message ?? e}`);
		process.exit(111);
	}
	log(`ready on ${o.listen} (${o.network}, account ${o.account})`);
	if (o.notifyFd !== null) {
		try {
			fs.writeSync(o.notifyFd, '\n');
			fs.closeSync(o.notifyFd);
		} catch (e) {
			log(`--notify-fd ${o.notifyFd}: ${e.message}`);
		}
	}
	const stop = () => {
		server.close();
		Promise.resolve(wallet.cleanupConnections?.()).finally(() => process.exit(0));
	};
	process.on('SIGTERM', stop);
	process.on('SIGINT', stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) main();
