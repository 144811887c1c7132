// http-util.mjs: what every HTTP wallet double needs: JSON answers, bounded
// request bodies, and a loopback listener whose close() ends every connection.

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

// Listen on 127.0.0.1; close() destroys open connections first, so a
// client's keep-alive or a hung request cannot hold the test open.
export async function listenLocal(server, port = 0) {
	const sockets = new Set();
	server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
	await new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(port, '127.0.0.1', resolve);
	});
	return {
		port: server.address().port,
		close() {
			for (const s of sockets) s.destroy();
			return new Promise((resolve) => server.close(() => resolve()));
		},
	};
}
