// sdk.mjs: SparkWallet.initialize as @buildonspark/spark-sdk 0.8.8 has it
// ({mnemonicOrSeed, accountNumber, options: {network}} -> {wallet}), giving
// the fake wallet of ../spark-fake-wallet.mjs. It logs what it was given,
// so a test can see the bridge's arguments. SPARK_FAKE_AUTOPAY_MS=N: every
// invoice is paid in full N ms after it is made (the SSP's statuses walked
// by the fake's settle()), standing in for a payer.
import { fakeSparkWallet } from '../spark-fake-wallet.mjs';

export const SparkWallet = {
	async initialize({ mnemonicOrSeed, accountNumber, options }) {
		if (typeof mnemonicOrSeed !== 'string' || mnemonicOrSeed.split(/\s+/).length < 12)
			throw new Error('invalid mnemonic');
		const network = String(options?.network ?? '').toLowerCase();
		process.stderr.write(`spark-bridge: fake sdk: initialize network ${options?.network} account ${accountNumber}\n`);
		const wallet = fakeSparkWallet({ network });
		const ms = Number(process.env.SPARK_FAKE_AUTOPAY_MS || 0);
		if (ms > 0) {
			const create = wallet.createLightningInvoice;
			wallet.createLightningInvoice = async (args) => {
				const r = await create(args);
				setTimeout(() => wallet.settle(r.id), ms).unref();
				return r;
			};
		}
		return { wallet };
	},
};
