// scripts/spark-bridge against an injected fake SparkWallet
// (tests/lib/spark-fake-wallet.mjs): endpoint shapes, the strict paid rule,
// auth, errors, and the CLI refusing an unsafe mnemonic file. No network.
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createBridge, listen, toMsat } from '../../scripts/spark-bridge/bridge.mjs';
import { fakeSparkWallet } from '../lib/spark-fake-wallet.mjs';
import { tmpdir, reporter, check } from '../lib/invoiced-rig.mjs';

const FILE = 'spark_bridge.mjs';
const rep = reporter(FILE);
const hardStop = setTimeout(() => { console.log(`FAIL: ${FILE}: timeout`); process.exit(1); }, 40000);
const dir = tmpdir('spark-bridge-');
const sock = path.join(dir, 'bridge.sock');
const wallet = fakeSparkWallet({ network: 'regtest' });
const server = await listen(createBridge({ wallet, apiKey: 'k3y' }), `unix:${sock}`);

function call(method, p, body, key = 'k3y') {
	return new Promise((resolve, reject) => {
		const req = http.request({ socketPath: sock, path: p, method,
			headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) } }, (res) => {
			let s = '';
			res.on('data', (d) => { s += d; });
			res.on('end', () => resolve({ status: res.statusCode, body: s ? JSON.parse(s) : null }));
		});
		req.on('error', reject);
		req.end(body === undefined ? undefined : JSON.stringify(body));
	});
}

let created;
await rep.run('socket_mode_0600', async () => {
	check((fs.statSync(sock).mode & 0o777) === 0o600, `mode ${(fs.statSync(sock).mode & 0o777).toString(8)}`);
});

await rep.run('create_invoice_shape', async () => {
	const r = await call('POST', '/v1/invoices', { amount_sats: 21, memo: 'job', expiry_seconds: 600 });
	check(r.status === 201, `status ${r.status} ${JSON.stringify(r.body)}`);
	const b = r.body;
	check(b.checking_id.startsWith('SparkLightningReceiveRequest:'), 'checking_id');
	check(b.payment_request.startsWith('lnbcrt210n1'), `bolt11 ${b.payment_request.slice(0, 20)}`);
	check(/^[0-9a-f]{64}$/.test(b.payment_hash), 'payment_hash');
	check(b.amount_msat === '21000', `amount_msat ${b.amount_msat} (MILLISATOSHI unit converted)`);
	check(Math.abs(b.expires_at - (Date.now() / 1000 + 600)) < 5, 'expires_at');
	check(b.status === 'INVOICE_CREATED', 'status');
	created = b;
});

await rep.run('create_validation', async () => {
	let r = await call('POST', '/v1/invoices', { amount_sats: 21 });
	check(r.status === 400 && /expiry/.test(r.body.error), 'missing expiry accepted');
	r = await call('POST', '/v1/invoices', { amount_sats: 1.5, expiry_seconds: 60 });
	check(r.status === 400, 'fractional sats accepted');
	r = await call('POST', '/v1/invoices', { amount_sats: 5, expiry_seconds: 60 }, null);
	check(r.status === 401 && r.body.error === 'Unauthorized', 'no key accepted');
	r = await call('POST', '/v1/invoices', { amount_sats: 5, expiry_seconds: 60 }, 'wrong');
	check(r.status === 401, 'wrong key accepted');
});

await rep.run('strict_paid_rule', async () => {
	const id = encodeURIComponent(created.checking_id);
	let r = await call('GET', `/v1/invoices/${id}`);
	check(r.status === 200 && r.body.paid === false && r.body.status === 'INVOICE_CREATED', JSON.stringify(r.body));
	check(r.body.preimage, 'fake preimage present (and ignored) before payment');
	check(r.body.amount_msat === undefined, 'amount before payment');
	wallet.advance(created.checking_id, 'TRANSFER_CREATED');
	r = await call('GET', `/v1/invoices/${id}`);
	check(r.body.paid === false && r.body.status === 'TRANSFER_CREATED', 'TRANSFER_CREATED is not paid');
	// Paid status, but the incoming transfer is not complete yet.
	const sparkId = wallet.settle(created.checking_id, { complete: false });
	r = await call('GET', `/v1/invoices/${id}`);
	check(r.body.paid === false && r.body.status === 'WAITING_FOR_FUNDS', `incomplete transfer: ${JSON.stringify(r.body)}`);
	wallet.completeTransfer(sparkId);
	r = await call('GET', `/v1/invoices/${id}`);
	check(r.body.paid === true && r.body.status === 'TRANSFER_COMPLETED', JSON.stringify(r.body));
	check(r.body.amount_msat === '21000', `received ${r.body.amount_msat} (SATOSHI unit converted)`);
});

await rep.run('outgoing_transfer_is_not_paid', async () => {
	const c = await call('POST', '/v1/invoices', { amount_sats: 3, expiry_seconds: 60 });
	wallet.settle(c.body.checking_id, { direction: 'OUTGOING' });
	const r = await call('GET', `/v1/invoices/${encodeURIComponent(c.body.checking_id)}`);
	check(r.body.paid === false && r.body.status === 'WAITING_FOR_FUNDS', JSON.stringify(r.body));
});

await rep.run('unknown_and_errors', async () => {
	let r = await call('GET', '/v1/invoices/SparkLightningReceiveRequest%3Anope');
	check(r.status === 404 && r.body.error === 'Not found', JSON.stringify(r));
	wallet.fail(1);
	r = await call('POST', '/v1/invoices', { amount_sats: 5, expiry_seconds: 60 });
	check(r.status === 502 && /UNAVAILABLE/.test(r.body.error), JSON.stringify(r));
	r = await call('GET', '/v1/nothing');
	check(r.status === 404, 'unknown path');
});

await rep.run('balance_strings', async () => {
	const r = await call('POST', '/v1/balance', {});
	check(r.status === 200 && typeof r.body.balance_sats === 'string', JSON.stringify(r.body));
	check(r.body.balance_msat === (BigInt(r.body.balance_sats) * 1000n).toString(), 'msat');
	check(BigInt(r.body.balance_sats) === 50021n, `balance ${r.body.balance_sats}`);
});

await rep.run('currency_units', async () => {
	check(toMsat({ originalValue: 5, originalUnit: 'SATOSHI' }) === 5000n, 'sat');
	check(toMsat({ originalValue: 5, originalUnit: 'MILLISATOSHI' }) === 5n, 'msat');
	check(toMsat({ originalValue: 1, originalUnit: 'BITCOIN' }) === 100000000000n, 'btc');
	let threw = false;
	try { toMsat({ originalValue: 1, originalUnit: 'USD' }); } catch { threw = true; }
	check(threw, 'unknown unit accepted');
});

await rep.run('cli_refuses_0644_mnemonic', async () => {
	const mf = path.join(dir, 'mnemonic');
	fs.writeFileSync(mf, 'abandon '.repeat(11) + 'about\n', { mode: 0o644 });
	fs.chmodSync(mf, 0o644);
	const bridge = fileURLToPath(new URL('../../scripts/spark-bridge/bridge.mjs', import.meta.url));
	const p = spawn(process.execPath, [bridge, '--listen', `unix:${dir}/x.sock`, '--mnemonic-file', mf]);
	let err = '';
	p.stderr.on('data', (d) => { err += d; });
	const t = setTimeout(() => p.kill('SIGKILL'), 15000);
	const code = await new Promise((r) => p.on('close', r));
	clearTimeout(t);
	check(code === 100, `exit ${code}: ${err}`);
	check(/group or others/.test(err) && err.includes(mf), err);
	check(!err.includes('abandon'), 'the mnemonic was printed');
});

await rep.run('cli_refuses_bad_socket_mode_and_notify_fd', async () => {
	const mf = path.join(dir, 'mnemonic');
	fs.chmodSync(mf, 0o600);
	const bridge = fileURLToPath(new URL('../../scripts/spark-bridge/bridge.mjs', import.meta.url));
	for (const extra of [['--socket-mode', '644'], ['--socket-mode', '0777'], ['--notify-fd', '1'], ['--notify-fd', 'x']]) {
		const p = spawn(process.execPath, [bridge, '--listen', `unix:${dir}/y.sock`, '--mnemonic-file', mf, ...extra]);
		let err = '';
		p.stderr.on('data', (d) => { err += d; });
		const t = setTimeout(() => p.kill('SIGKILL'), 15000);
		const code = await new Promise((r) => p.on('close', r));
		clearTimeout(t);
		check(code === 100 && new RegExp(extra[0]).test(err), `${extra.join(' ')}: exit ${code}: ${err}`);
	}
});

server.close();
fs.rmSync(dir, { recursive: true, force: true });
clearTimeout(hardStop);
process.exit(rep.failed ? 1 : 0);
