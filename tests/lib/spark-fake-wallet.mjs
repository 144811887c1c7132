// spark-fake-wallet.mjs: a stand-in for @buildonspark/spark-sdk's SparkWallet
// (0.8.8 types), injected into scripts/spark-bridge so its tests need no
// network. It reproduces the SDK's shapes: createLightningInvoice ->
// LightningReceiveRequest {id, status, invoice {encodedInvoice, paymentHash,
// amount: CurrencyAmount {originalValue, originalUnit: "MILLISATOSHI"},
// createdAt, expiresAt}, transfer? {totalAmount, sparkId}, paymentPreimage?},
// getLightningReceiveRequest(id) -> that or null, getTransfer(id) ->
// WalletTransfer {id, status: "TRANSFER_STATUS_*", transferDirection, totalValue}
// or undefined, getBalance() -> {balance, satsBalance {available, owned,
// incoming}} as BigInts. Invoices are real signed BOLT11 (the LNbits
// double's minter), so invoiced's verifier runs for real.
//
// Test hooks: advance(id, status), settle(id, {sats, complete}) walks the
// Spark statuses, fail(n) makes the next n SDK calls throw.
import crypto from 'node:crypto';
import { mintInvoice } from './bolt11-mint.mjs';

export function fakeSparkWallet({ network = 'regtest' } = {}) {
	const reqs = new Map();
	const transfers = new Map();
	const calls = [];
	let failNext = 0;
	let balanceSats = 50000n;

	function maybeFail(name) {
		calls.push(name);
		if (failNext > 0) {
			failNext--;
			throw new Error('SparkAuthenticationError: get_challenge UNAVAILABLE (injected)');
		}
	}

	return {
		calls, reqs, transfers,
		async createLightningInvoice({ amountSats, memo, expirySeconds, includeSparkAddress }) {
			maybeFail('createLightningInvoice');
			if (includeSparkAddress) throw new Error('the bridge must not ask for a Spark address fallback');
			if (!Number.isSafeInteger(expirySeconds)) throw new Error('no explicit expiry');
			const preimage = crypto.randomBytes(32);
			const paymentHash = crypto.createHash('sha256').update(preimage).digest('hex');
			const now = Date.now();
			const r = {
				id: `SparkLightningReceiveRequest:${crypto.randomUUID()}`,
				createdAt: new Date(now).toISOString(), updatedAt: new Date(now).toISOString(),
				network: network.toUpperCase(), typename: 'LightningReceiveRequest',
				status: 'INVOICE_CREATED',
				invoice: {
					encodedInvoice: mintInvoice({ network, amountMsat: amountSats * 1000, memo, expiry: expirySeconds, paymentHash }),
					bitcoinNetwork: network.toUpperCase(), paymentHash,
					amount: { originalValue: amountSats * 1000, originalUnit: 'MILLISATOSHI' },
					createdAt: new Date(now).toISOString(),
					expiresAt: new Date(now + expirySeconds * 1000).toISOString(), memo,
				},
				// The receiver's own wallet made the preimage: present before payment.
				paymentPreimage: preimage.toString('hex'),
			};
			reqs.set(r.id, r);
			return structuredClone(r);
		},
		async getLightningReceiveRequest(id) {
			maybeFail('getLightningReceiveRequest');
			const r = reqs.get(id);
			return r ? structuredClone(r) : null;
		},
		async getTransfer(id) {
			maybeFail('getTransfer');
			const t = transfers.get(id);
			return t ? structuredClone(t) : undefined;
		},
		async getBalance() {
			maybeFail('getBalance');
			return { balance: balanceSats, satsBalance: { available: balanceSats, owned: balanceSats, incoming: 0n }, tokenBalances: new Map() };
		},
		async cleanupConnections() {},
		// hooks
		advance(id, status) { reqs.get(id).status = status; },
		// A payment: the SSP creates the transfer, the request walks its statuses.
		settle(id, { sats, complete = true, direction = 'INCOMING' } = {}) {
			const r = reqs.get(id);
			const amt = sats ?? r.invoice.amount.originalValue / 1000;
			const sparkId = crypto.randomUUID();
			r.transfer = { totalAmount: { originalValue: amt, originalUnit: 'SATOSHI' }, sparkId };
			r.status = 'TRANSFER_COMPLETED';
			transfers.set(sparkId, {
				id: sparkId, status: complete ? 'TRANSFER_STATUS_COMPLETED' : 'TRANSFER_STATUS_SENDER_KEY_TWEAKED',
				transferDirection: direction, totalValue: amt, leaves: [],
			});
			if (complete && direction === 'INCOMING') balanceSats += BigInt(amt);
			return sparkId;
		},
		completeTransfer(sparkId) {
			const t = transfers.get(sparkId);
			t.status = 'TRANSFER_STATUS_COMPLETED';
			if (t.transferDirection === 'INCOMING') balanceSats += BigInt(t.totalValue);
		},
		fail(n = 1) { failNext = n; },
	};
}
