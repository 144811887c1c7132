// inferd_bearer.mjs: the OpenAI API key never goes over plain http to
// another machine without a warning at start (naming the host, never the
// URL's user info), and a backend on this machine or behind https gets none.
import fs from 'node:fs';
import path from 'node:path';
import { startInferd, suite, assert, cleanExit, tmpdir } from '../lib/inferd-rig.mjs';

const t = suite('inferd_bearer.mjs', 45000);
const kdir = tmpdir('inferd-key-');
const keyFile = path.join(kdir, 'openai.key');
fs.writeFileSync(keyFile, 'sk-bearer-test\n', { mode: 0o600 });
t.cleanup(() => fs.rmSync(kdir, { recursive: true, force: true }));
const base = { infer_backend: 'openai', openai_api_key_file: keyFile, infer_connect_timeout: 1 };
const warned = (s) => /API key goes to .* over plain http/.test(s);

await t.check('plain http to another host: warned, user info not logged', async () => {
	const inf = await startInferd({ conf: { ...base, infer_urls: 'http://op:s3cret@192.0.2.1:9/v1' } });
	const r = await inf.stop();
	cleanExit(r);
	assert(warned(r.stderr) && /192\.0\.2\.1/.test(r.stderr), 'no warning: ' + r.stderr.slice(-400));
	assert(!/s3cret|op:/.test(r.stderr), 'user info in the log');
});

await t.check('loopback or https: no warning; no key: no warning', async () => {
	for (const url of ['http://127.0.0.1:9', 'http://[::1]:9', 'http://localhost:9', 'https://192.0.2.1:9']) {
		const inf = await startInferd({ conf: { ...base, infer_urls: url } });
		const r = await inf.stop();
		cleanExit(r);
		assert(!warned(r.stderr), url + ' warned: ' + r.stderr.slice(-300));
	}
	const inf = await startInferd({ conf: { infer_backend: 'openai', infer_connect_timeout: 1, infer_urls: 'http://192.0.2.1:9' } });
	const r = await inf.stop();
	cleanExit(r);
	assert(!warned(r.stderr), 'warned without a key');
});

await t.done();
