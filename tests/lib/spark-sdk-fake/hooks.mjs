// hooks.mjs: module resolution hook: the Spark SDK's name resolves to sdk.mjs.
const FAKE = new URL('./sdk.mjs', import.meta.url).href;

export async function resolve(specifier, context, next) {
	if (specifier === '@buildonspark/spark-sdk')
		return { url: FAKE, shortCircuit: true };
	return next(specifier, context);
}
