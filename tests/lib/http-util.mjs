// http-util.mjs: the two helpers every HTTP wallet double needs.

export function json(res, status, body) {
	const s = JSON.stringify(body);
	res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
	res.end(s);
}

export function readBody(req, max = 1 << 20) {
	return new Promise((resolve, reject) => {
		let len = 0;
		const parts = [];
		req.on('data', (c) => {
			len += c.length;
			if (len > max) { reject(new Error('body too large')); req.destroy(); return; }
			parts.push(c);
		});
		req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
		req.on('error', reject);
	});
}
