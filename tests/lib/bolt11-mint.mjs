// bolt11-mint.mjs: real signed BOLT11 invoices for the wallet doubles.
//
// Every wallet double (LNbits, LND, NWC, Spark) mints its invoices here, so
// invoiced's own decoder, signature check and cross-checks (amount, network,
// payment hash) run against real strings: signed (npm bolt11) with the
// BOLT11 spec's test node key (payments.md §3), the network prefix asked
// for, a payee `n` field, the current timestamp and the requested expiry,
// and the caller's payment hash (a hold invoice is minted on the hash the
// client chose).
import crypto from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const bolt11 = require('bolt11');
const bech32 = require('bech32');

// The BOLT11 spec's example node key (payments.md §3).
export const SPEC_NODE_KEY = 'e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734';
export const SPEC_NODE_ID = '03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad';

export const NETWORKS = {
	bitcoin: { bech32: 'bc', pubKeyHash: 0x00, scriptHash: 0x05, validWitnessVersions: [0, 1] },
	testnet: { bech32: 'tb', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
	signet: { bech32: 'tbs', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
	regtest: { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
};

// A valid invoice for another network, for the wrong_network knob.
export const OTHER_NETWORK = { bitcoin: 'regtest', testnet: 'bitcoin', signet: 'bitcoin', regtest: 'bitcoin' };

export function mintInvoice({ network, amountMsat, memo, expiry, paymentHash, nodeKey = SPEC_NODE_KEY, timestamp }) {
	const net = NETWORKS[network];
	if (!net) throw new Error(`unknown network ${network}`);
	const tags = [
		{ tagName: 'payment_hash', data: paymentHash },
		{ tagName: 'payment_secret', data: crypto.randomBytes(32).toString('hex') },
		{ tagName: 'description', data: memo ?? '' },
		{ tagName: 'expire_time', data: expiry },
		{ tagName: 'payee_node_key', data: nodePubkey(nodeKey) },
	];
	const enc = bolt11.encode({
		network: net,
		millisatoshis: String(amountMsat),
		timestamp: timestamp ?? Math.floor(Date.now() / 1000),
		tags,
	});
	return bolt11.sign(enc, nodeKey).paymentRequest;
}

// Flip one word of r inside the signature and re-checksum: the string is still
// valid bech32, but the signature no longer matches the `n` field.
export function corruptSignature(pr) {
	const d = bech32.decode(pr, 100000);
	const words = d.words.slice();
	const i = words.length - 104 + 10;
	words[i] ^= 1;
	return bech32.encode(d.prefix, words, 100000);
}

export function nodePubkey(sk) {
	const ecdh = crypto.createECDH('secp256k1');
	ecdh.setPrivateKey(Buffer.from(sk, 'hex'));
	return ecdh.getPublicKey('hex', 'compressed');
}
