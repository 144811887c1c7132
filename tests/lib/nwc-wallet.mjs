// nwc-wallet.mjs: a test double of a Nostr Wallet Connect wallet service
// (NIP-47, nostr-protocol/nips 47.md; payments.md §2.5), speaking on a real
// relay (tests/lib/relay.mjs) exactly as a wallet service does on the wire:
//   - publishes its info event, kind 13194 (replaceable), content = the
//     supported methods space-separated, tags ["encryption", "nip44_v2 nip04"]
//     (configurable) and ["notifications", "payment_received"];
//   - answers kind 23194 requests addressed to it (["p", service]) with kind
//     23195 responses tagged ["e", request id] and ["p", client], encrypted
//     with NIP-44 v2 when the request carries ["encryption","nip44_v2"], else
//     NIP-04 (and only if the info event offers nip04), content
//     {"result_type", "error": {code, message} | null, "result": {...} | null};
//   - methods make_invoice {amount (msat), description?, expiry?} ->
//     transaction {type "incoming", state "pending", invoice, description,
//     payment_hash, amount, fees_paid, created_at, expires_at};
//     lookup_invoice {payment_hash | invoice} -> the transaction with its
//     state (pending | settled | expired | failed), settled_at, preimage once
//     settled; unknown -> error NOT_FOUND; get_balance -> {balance: msat};
//     anything else -> NOT_IMPLEMENTED;
//   - payment_received notifications: kind 23197 (NIP-44) and, when nip04 is
//     offered, kind 23196 (NIP-04), {"notification_type":"payment_received",
//     "notification": transaction}.
//   - with holds: true, hold invoices as NIP-47 and Alby Hub, their reference
//     implementation, do them (hold-invoices.md §2, §9): the info event lists
//     make_hold_invoice settle_hold_invoice cancel_hold_invoice and the
//     notifications tag hold_invoice_accepted; get_info returns methods,
//     notifications and block_height; make_hold_invoice {amount, payment_hash
//     (required: else BAD_REQUEST), description?, expiry?} -> transaction
//     state "pending", preimage "", settled_at null, settle_deadline null;
//     pay() holds it: state "accepted", settle_deadline = height + 80, and a
//     hold_invoice_accepted notification (23197, and 23196 with nip04);
//     lookup shows "accepted", "expired" once expires_at passed unsettled
//     (Alby's override, also while accepted), "failed" after a cancel,
//     "settled" with preimage and settled_at after a settle;
//     settle_hold_invoice {preimage} needs sha256 to match an accepted row,
//     else INTERNAL "failed to find accepted hold invoice" (also on a repeat),
//     then {} and a payment_received notification; cancel_hold_invoice
//     {payment_hash} NOT_FOUND unless accepted (exact lowercase match), else
//     {} and state "failed". holdMode: 'not_implemented' answers every hold
//     method INTERNAL "not implemented" (Alby on phoenixd/Cashu).
//     envelope: 'alby' omits "error" on success (Alby), 'spec' sends null.
// Invoices are real signed BOLT11 (tests/lib/bolt11-mint.mjs).
//
// Module: const w = await startNwcWallet({ relayUrl, network: 'regtest',
//           encryption: 'nip44_v2 nip04' | 'nip44_v2' | 'nip04' | null (no tag),
//           holds?: bool, holdMode?: 'ok' | 'not_implemented', envelope?: 'spec' | 'alby',
//           missingHashCode?: 'BAD_REQUEST' | 'OTHER' })
//         w.uri (nostr+walletconnect://...), w.pay(hash, amountMsat?) (a hold
//         invoice: held), w.height, w.mine(n),
//         w.fail(n, code?) (next n requests answered with an error),
//         w.silence(n) (next n requests ignored: client timeouts),
//         w.log (requests seen: {method, encryption}), w.counters, w.connections
//         (times it (re)connected to the relay: it reconnects like a real service),
//         await w.close()
import crypto from 'node:crypto';
import WebSocket from 'ws';
import { generateSecretKey, getPublicKey, finalizeEvent, verifyEvent } from 'nostr-tools/pure';
import * as nip44 from 'nostr-tools/nip44';
import * as nip04 from 'nostr-tools/nip04';
import { mintInvoice } from './bolt11-mint.mjs';

const hex = (b) => Buffer.from(b).toString('hex');

const HOLD_METHODS = 'make_hold_invoice settle_hold_invoice cancel_hold_invoice';

export async function startNwcWallet({ relayUrl, network = 'regtest', encryption = 'nip44_v2 nip04',
	balanceMsat = 42_000_000, methods = 'make_invoice lookup_invoice get_balance', holds = false,
	holdMode = 'ok', envelope = 'spec', missingHashCode = 'BAD_REQUEST' } = {}) {
	if (holds) methods = `${methods} get_info ${HOLD_METHODS}`;
	const notifications = holds ? 'payment_received hold_invoice_accepted' : 'payment_received';
	let height = 800;
	const sk = generateSecretKey();
	const pk = getPublicKey(sk);
	const clientSk = generateSecretKey();
	const clientPk = getPublicKey(clientSk);
	const offers = (encryption ?? 'nip04').split(' ');
	const txs = new Map();	// payment_hash -> transaction
	const log = [];
	const counters = { requests: 0, created: 0, lookups: 0, notifications: 0, settles: 0, cancels: 0 };
	let failN = 0, failCode = 'INTERNAL', silenceN = 0;
	let ws, closed = false;

	const now = () => Math.floor(Date.now() / 1000);
	const send = (msg) => ws.send(JSON.stringify(msg));
	const enc = (scheme, peer, text) => (scheme === 'nip44_v2'
		? nip44.encrypt(text, nip44.getConversationKey(sk, peer))
		: nip04.encrypt(sk, peer, text));
	const dec = (scheme, peer, text) => (scheme === 'nip44_v2'
		? nip44.decrypt(text, nip44.getConversationKey(sk, peer))
		: nip04.decrypt(sk, peer, text));

	function publish(kind, content, tags) {
		const ev = finalizeEvent({ kind, created_at: now(), tags, content }, sk);
		send(['EVENT', ev]);
		return ev;
	}

	function txView(t) {
		const v = { ...t };
		delete v.hold;
		if (t.state !== 'settled' && !t.hold) delete v.preimage;
		if (t.hold && t.state !== 'settled') v.preimage = '';
		if ((t.state === 'pending' || (t.hold && t.state === 'accepted')) && now() >= t.expires_at)
			v.state = 'expired';
		return v;
	}

	function notify(type, t) {
		const n = JSON.stringify({ notification_type: type, notification: txView(t) });
		if (offers.includes('nip44_v2')) publish(23197, enc('nip44_v2', clientPk, n), [['p', clientPk]]);
		if (offers.includes('nip04')) publish(23196, enc('nip04', clientPk, n), [['p', clientPk]]);
		counters.notifications++;
	}

	function holdMethod(method, params) {
		if (holdMode === 'not_implemented') return { error: { code: 'INTERNAL', message: 'not implemented' } };
		if (method === 'make_hold_invoice') {
			if (typeof params?.payment_hash !== 'string' || !/^[0-9a-fA-F]{64}$/.test(params.payment_hash))
				return { error: { code: missingHashCode, message: 'payment_hash is required for make_hold_invoice' } };
			if (!Number.isInteger(params.amount) || params.amount <= 0)
				return { error: { code: 'OTHER', message: 'amount (msat) required' } };
			const hash = params.payment_hash.toLowerCase();
			if (txs.has(hash)) return { error: { code: 'INTERNAL', message: 'invoice already exists' } };
			const expiry = Number.isInteger(params.expiry) && params.expiry > 0 ? params.expiry : 86400;
			const t = {
				type: 'incoming', state: 'pending', hold: true,
				invoice: mintInvoice({ network, amountMsat: params.amount, memo: params.description ?? '', expiry, paymentHash: hash }),
				description: params.description ?? '', description_hash: '', preimage: '',
				payment_hash: hash, amount: params.amount, fees_paid: 0,
				created_at: now(), expires_at: now() + expiry, settled_at: null, settle_deadline: null, metadata: {},
			};
			txs.set(hash, t);
			counters.created++;
			return { result: txView(t) };
		}
		if (method === 'settle_hold_invoice') {
			const pre = typeof params?.preimage === 'string' && /^[0-9a-fA-F]{64}$/.test(params.preimage)
				? Buffer.from(params.preimage, 'hex') : null;
			const t = pre && txs.get(crypto.createHash('sha256').update(pre).digest('hex'));
			if (!t || !t.hold || t.state !== 'accepted')
				return { error: { code: 'INTERNAL', message: 'failed to find accepted hold invoice' } };
			t.state = 'settled';
			t.preimage = params.preimage.toLowerCase();
			t.settled_at = now();
			counters.settles++;
			setTimeout(() => notify('payment_received', t), 10);
			return { result: {} };
		}
		// cancel_hold_invoice: Alby finds only ACCEPTED rows, by exact string.
		const t = typeof params?.payment_hash === 'string' ? txs.get(params.payment_hash) : null;
		if (!t || !t.hold || t.state !== 'accepted') return { error: { code: 'NOT_FOUND', message: 'invoice not found' } };
		t.state = 'failed';
		counters.cancels++;
		return { result: {} };
	}

	function handle(method, params) {
		if (method === 'make_invoice') {
			if (!Number.isInteger(params?.amount) || params.amount <= 0)
				return { error: { code: 'OTHER', message: 'amount (msat) required' } };
			const preimage = crypto.randomBytes(32);
			const hash = crypto.createHash('sha256').update(preimage).digest('hex');
			const expiry = Number.isInteger(params.expiry) ? params.expiry : 86400;
			const t = {
				type: 'incoming', state: 'pending',
				invoice: mintInvoice({ network, amountMsat: params.amount, memo: params.description ?? '', expiry, paymentHash: hash }),
				description: params.description ?? '', description_hash: '', preimage: hex(preimage),
				payment_hash: hash, amount: params.amount, fees_paid: 0,
				created_at: now(), expires_at: now() + expiry, settled_at: null, metadata: {},
			};
			txs.set(hash, t);
			counters.created++;
			return { result: txView(t) };
		}
		if (method === 'lookup_invoice') {
			counters.lookups++;
			let t = params?.payment_hash ? txs.get(params.payment_hash) : null;
			if (!t && params?.invoice) t = [...txs.values()].find((x) => x.invoice === params.invoice);
			if (!t) return { error: { code: 'NOT_FOUND', message: 'invoice not found' } };
			return { result: txView(t) };
		}
		if (method === 'get_balance') return { result: { balance: balanceMsat } };
		if (method === 'get_info' && holds)
			return { result: { methods: methods.split(' '), notifications: notifications.split(' '), block_height: height } };
		if (holds && HOLD_METHODS.split(' ').includes(method)) return holdMethod(method, params);
		return { error: { code: 'NOT_IMPLEMENTED', message: `${method} is not supported` } };
	}

	function onRequest(ev) {
		if (!verifyEvent(ev)) return;
		if (!ev.tags.some((t) => t[0] === 'p' && t[1] === pk)) return;
		const encTag = ev.tags.find((t) => t[0] === 'encryption');
		const scheme = encTag ? encTag[1] : 'nip04';
		counters.requests++;
		if (!offers.includes(scheme)) {
			// Answer in a scheme the client can read, per NIP-47's UNSUPPORTED_ENCRYPTION.
			log.push({ method: null, encryption: scheme, refused: true });
			return;
		}
		let req;
		try { req = JSON.parse(dec(scheme, ev.pubkey, ev.content)); } catch { return; }
		const expTag = ev.tags.find((t) => t[0] === 'expiration');
		log.push({ method: req.method, encryption: scheme, params: req.params, expiration: expTag ? Number(expTag[1]) : null });
		if (silenceN > 0) { silenceN--; return; }
		let out;
		if (failN > 0) { failN--; out = { error: { code: failCode, message: 'injected failure (test double)' } }; }
		else out = handle(req.method, req.params);
		const body = { result_type: req.method, error: out.error ?? null, result: out.result ?? null };
		if (envelope === 'alby') {
			if (!out.error) delete body.error;
			if (!out.result) delete body.result;
		}
		publish(23195, enc(scheme, ev.pubkey, JSON.stringify(body)), [['e', ev.id], ['p', ev.pubkey]]);
	}

	const infoTags = [['notifications', notifications]];
	if (encryption !== null) infoTags.unshift(['encryption', encryption]);
	let connected = 0;

	// Connect, subscribe to requests, then (re)publish the info event. Like a
	// real wallet service, reconnect when the relay goes away.
	function connect() {
		return new Promise((resolve, reject) => {
			const sock = new WebSocket(relayUrl);
			sock.on('error', (e) => { if (!connected) reject(e); });
			sock.on('open', () => {
				ws = sock;
				send(['REQ', 'req', { kinds: [23194], '#p': [pk], since: now() - 5 }]);
			});
			sock.on('message', (data) => {
				let m;
				try { m = JSON.parse(data); } catch { return; }
				if (m[0] === 'EOSE' && m[1] === 'req') {
					connected++;
					publish(13194, methods, infoTags);
					resolve();
				}
				if (m[0] === 'EVENT' && m[1] === 'req' && m[2]?.kind === 23194) onRequest(m[2]);
			});
			sock.on('close', () => {
				if (!closed && connected) setTimeout(function retry() {
					if (!closed) connect().catch(() => setTimeout(retry, 200));
				}, 200);
			});
		});
	}
	await connect();

	const relayParam = encodeURIComponent(relayUrl);
	return {
		pk, clientPk, clientSecret: hex(clientSk), log, counters, txs,
		uri: `nostr+walletconnect://${pk}?relay=${relayParam}&secret=${hex(clientSk)}`,
		// A payer pays: a normal invoice settles; a hold invoice is held.
		pay(hash, amountMsat) {
			const t = txs.get(hash);
			if (!t) throw new Error('unknown payment hash');
			t.amount = amountMsat ?? t.amount;
			if (t.hold) {
				if (t.state !== 'pending') throw new Error(`hold invoice is ${t.state}`);
				t.state = 'accepted';
				t.settle_deadline = height + 80;
				notify('hold_invoice_accepted', t);
				return;
			}
			t.state = 'settled';
			t.settled_at = now();
			notify('payment_received', t);
		},
		get height() { return height; },
		mine(n = 1) { height += n; },
		fail(n = 1, code = 'INTERNAL') { failN = n; failCode = code; },
		get connections() { return connected; },
		silence(n = 1) { silenceN = n; },
		async close() {
			if (closed) return;
			closed = true;
			ws.close();
		},
	};
}
