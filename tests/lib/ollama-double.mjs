// tests/lib/ollama-double.mjs: a test double of an Ollama server.
//
// It reproduces Ollama's documented wire format (docs/api.md, docs/api/
// streaming.mdx, docs/api/errors.mdx and server/routes.go as summarised in
// /work/shared/docs/ollama-api.md) for the endpoints inferd uses:
//
//   GET|HEAD /                 200 text/plain "Ollama is running"
//   GET|HEAD /api/version      200 {"version":"0.33.0"}
//   GET|HEAD /api/tags         200 {"models":[{name, model, modified_at, size, digest, details}]}
//   POST /api/chat             NDJSON stream (application/x-ndjson, chunked,
//                              NO header byte before the first chunk exists) or
//                              one application/json object with "stream":false
//   POST /api/generate         the same framing with "response" deltas and a
//                              final "context" array
//   unknown model              404 {"error":"model '<name>' not found"}
//   missing model (chat)       400 {"error":"model is required"}
//   bad JSON / missing body    400 {"error":"..."}
//   mid-stream failure         status stays 200, one more line {"error":"..."}, then EOF
//   busy / runner died         503 / 500 with Ollama's exact messages
//   other paths                404 text/plain "404 page not found" (gin's default)
//
// and the OpenAI-compatible shim (Ollama's middleware/openai.go; llama.cpp's
// llama-server behaviour where noted):
//
//   POST /v1/chat/completions  SSE (text/event-stream): "data: <json>\n\n" per
//                              chunk, role only in the first chunk, the
//                              finish_reason in a separate chunk with an empty
//                              delta, with stream_options.include_usage one more
//                              chunk with "choices":[] and "usage", then
//                              "data: [DONE]\n\n". stream defaults to false.
//                              ": keep-alive" comment lines (llama.cpp's SSE
//                              pings) when sseKeepAliveMs/sseComments are set.
//                              A mid-stream error is "data: {"error":{...}}"
//                              and the stream ends without [DONE] (llama.cpp).
//                              Errors before the stream: non-2xx and
//                              {"error":{"message","type","param","code"}}.
//                              stream_options without "stream":true is a 400
//                              (vLLM's validator; Ollama would ignore it).
//   GET /v1/models             {"object":"list","data":[{id, object:"model", created, owned_by:"library"}]}
//   with apiKey set            401 {"error":"Unauthorized"} without the right
//                              "Authorization: Bearer <key>" (vLLM --api-key)
//
// Determinism (so tests can assert texts and counts):
//   - the answer is opts.answer if set, else "w1 w2 ... wN" if answerWords is
//     set, else "Echo: " + the last user message (chat) or the prompt (generate);
//   - it is split into tokens with /\s*\S+/ (the first token is "Echo:", then
//     " word" ...), one token per chunk, so eval_count = completion_tokens =
//     the number of whitespace-separated words of the answer;
//   - prompt_eval_count = prompt_tokens = the number of whitespace-separated
//     words over all message contents (chat) or system + prompt (generate);
//   - options.num_predict (max_tokens on /v1) >= 0 caps the tokens sent, with
//     done_reason / finish_reason "length"; options.stop (array) cuts the text
//     before the first stop string, done_reason "stop".
//
// Knobs (startOllamaDouble(opts), control({...}), POST /_control {...}, and
// CLI flags in kebab-case: --token-delay-ms 5):
//   tokenDelayMs       delay before each token chunk (default 0)
//   paced              token i is due at start + i * tokenDelayMs (no drift:
//                      a stream's length no longer depends on timer lateness)
//   firstByteDelayMs   delay before the first byte of the answer: the model
//                      load. Ollama sends no headers during it.
//   hang               never answer inference requests at all (no headers)
//   stallAfterTokens   send N tokens, then nothing more (connection stays open)
//   errorAfterTokens   send N tokens, then the error line (errorMessage), EOF
//   cutAfterTokens     send N tokens, then EOF without the done chunk / [DONE]
//   failStatus         500 or 503 (or any >= 400): inference requests fail
//                      before the stream with Ollama's error body for it
//   failCount          with failStatus: fail only the next N inference requests
//   down               true: refuse connections (the listener is closed and
//                      every open connection is reset); false: listen again on
//                      the same port. downForMs: come back after that long.
//   models             model names for /api/tags, /v1/models and the model check;
//                      an entry may be an object {name, family, parameter_size,
//                      quantization_level, context_length, capabilities,
//                      remote_host} (Ollama v0.30+ /api/tags fields, api/types.go
//                      822-833). A model without "completion" in capabilities
//                      answers /api/chat and /v1 with 400 "\"X\" does not
//                      support chat" (server/routes.go:2636). MULTI_MODELS is a
//                      ready list: three completion models, one embedding-only
//                      model and one cloud model.
//   answer, answerWords  see above
//   answerWithModel    start the echo answer with "<model as asked>: " (which
//                      model answered, per request)
//   textInDone         put the last token's text in the done chunk itself
//   sseKeepAliveMs     /v1: send ": keep-alive" every N ms while silent
//                      (headers go out at once, like llama.cpp)
//   sseComments        /v1: a ": keep-alive" comment before every data event
//   sseCrlf            /v1: use "\r\n" line endings
//   apiKey             /v1: require this bearer token
//   version            reported by /api/version (default "0.33.0")
//   resetLog           (control only) clear the request log
//
// GET /_log returns {requests:[...], inflight, maxInflight}: every API
// request with method, path, body (parsed JSON), authorization, accept,
// status, tokensSent, outcome ("done", "error_line", "cut", "stalled",
// "hang", "http_error", "client_closed"), clientClosed (the client
// disconnected before the response ended), startedMs, endedMs.
//
// As a module:  const d = await startOllamaDouble({tokenDelayMs: 5});
//               d.url, d.port, await d.control({...}), d.log(), await d.close()
// As a CLI:     node tests/lib/ollama-double.mjs [--port N] [--token-delay-ms N] ...
//               prints "READY http://127.0.0.1:PORT" on stdout, exits on SIGTERM/SIGINT.

import http from 'node:http';
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const DEFAULTS = {
	tokenDelayMs: 0,
	firstByteDelayMs: 0,
	hang: false,
	stallAfterTokens: null,
	errorAfterTokens: null,
	errorMessage: 'model runner has unexpectedly stopped, this may be due to resource limitations or an internal error, check ollama server logs for details',
	cutAfterTokens: null,
	failStatus: null,
	failCount: null,
	down: false,
	downForMs: null,
	models: ['llama3.2'],
	answerWithModel: false,
	answer: null,
	answerWords: null,
	textInDone: false,
	paced: false,
	sseKeepAliveMs: 0,
	sseComments: false,
	sseCrlf: false,
	apiKey: null,
	version: '0.33.0',
};

const FAIL_BODIES = {
	500: 'model runner has unexpectedly stopped, this may be due to resource limitations or an internal error, check ollama server logs for details',
	503: 'server busy, please try again.  maximum pending requests exceeded',
};

const MAX_BODY = 16 * 1024 * 1024;

function fullName(m) {
	if (typeof m === 'object')
		m = m.name;
	return m.includes(':') ? m : m + ':latest';
}

// Several models, as a GPU owner's Ollama lists them (/api/tags since v0.30).
export const MULTI_MODELS = [
	{ name: 'llama3.2', family: 'llama', parameter_size: '3.2B', quantization_level: 'Q4_K_M', context_length: 131072, capabilities: ['completion', 'tools'] },
	{ name: 'qwen2.5:7b', family: 'qwen2', parameter_size: '7.6B', quantization_level: 'Q4_K_M', context_length: 32768, capabilities: ['completion', 'tools'] },
	{ name: 'mistral', family: 'llama', parameter_size: '7.2B', quantization_level: 'Q4_0', context_length: 32768, capabilities: ['completion'] },
	{ name: 'nomic-embed-text', family: 'nomic-bert', parameter_size: '137M', quantization_level: 'F16', context_length: 2048, capabilities: ['embedding'] },
	{ name: 'gpt-oss:120b-cloud', family: 'gptoss', parameter_size: '116.8B', quantization_level: 'MXFP4', context_length: 131072, capabilities: ['completion', 'tools', 'thinking'], remote_host: 'https://ollama.com:443' },
];

function modelInfo(m) {
	const o = typeof m === 'object' ? m : { name: m };
	return {
		family: 'llama', parameter_size: '3.2B', quantization_level: 'Q4_K_M',
		capabilities: ['completion', 'tools'], ...o, name: fullName(o.name),
	};
}

function words(s) {
	if (typeof s !== 'string')
		return 0;
	const w = s.trim().split(/\s+/);
	return w[0] === '' ? 0 : w.length;
}

// Split into tokens that concatenate back to exactly the text.
export function tokenize(text) {
	const t = text.match(/\s*\S+/g) || [];
	const rest = text.length - t.join('').length;
	if (rest > 0 && t.length > 0)
		t[t.length - 1] += text.slice(text.length - rest);
	return t;
}

function fakeDigest(name) {
	return createHash('sha256').update(name).digest('hex');
}

function rfc3339() {
	return new Date().toISOString();
}

export async function startOllamaDouble(opts = {}) {
	const knobs = { ...DEFAULTS, ...opts };
	const requests = [];
	const sockets = new Set();
	const timers = new Set();
	let inflight = 0, maxInflight = 0, nextId = 1;
	let port = opts.port || 0;
	let listening = false;

	function later(ms, fn) {
		const t = setTimeout(() => { timers.delete(t); fn(); }, ms);
		timers.add(t);
		return t;
	}
	function cancelTimer(t) {
		if (t) { clearTimeout(t); timers.delete(t); }
	}

	function hasModel(name) {
		if (typeof name !== 'string' || name === '')
			return false;
		const want = fullName(name);
		return knobs.models.some((m) => fullName(m) === want);
	}

	function canChat(name) {
		const m = knobs.models.find((x) => fullName(x) === fullName(name));
		return modelInfo(m).capabilities.includes('completion');
	}

	function answerFor(kind, body) {
		if (knobs.answerWithModel && typeof knobs.answer !== 'string')
			return body.model + ': ' + echoFor(kind, body);
		return echoFor(kind, body);
	}

	function echoFor(kind, body) {
		if (typeof knobs.answer === 'string')
			return knobs.answer;
		if (Number.isInteger(knobs.answerWords)) {
			const a = [];
			for (let i = 1; i <= knobs.answerWords; i++)
				a.push('w' + i);
			return a.join(' ');
		}
		if (kind === 'generate')
			return 'Echo: ' + (body.prompt || '');
		const msgs = Array.isArray(body.messages) ? body.messages : [];
		for (let i = msgs.length - 1; i >= 0; i--)
			if (msgs[i] && msgs[i].role === 'user')
				return 'Echo: ' + (msgs[i].content || '');
		return 'Echo: ';
	}

	function promptCount(kind, body) {
		if (kind === 'generate')
			return words(body.system) + words(body.prompt);
		const msgs = Array.isArray(body.messages) ? body.messages : [];
		return msgs.reduce((n, m) => n + words(m && m.content), 0);
	}

	// The answer as tokens, after num_predict and stop are applied.
	function plan(kind, body, maxTok, stop) {
		let text = answerFor(kind, body);
		let reason = 'stop';
		if (Array.isArray(stop)) {
			let cut = -1;
			for (const s of stop)
				if (typeof s === 'string' && s !== '') {
					const i = text.indexOf(s);
					if (i >= 0 && (cut < 0 || i < cut))
						cut = i;
				}
			if (cut >= 0)
				text = text.slice(0, cut);
		}
		let toks = tokenize(text);
		if (Number.isInteger(maxTok) && maxTok >= 0 && maxTok < toks.length) {
			toks = toks.slice(0, maxTok);
			reason = 'length';
		}
		return { toks, reason, promptTokens: promptCount(kind, body) };
	}

	function takeFailure() {
		if (!knobs.failStatus)
			return null;
		if (knobs.failCount !== null) {
			if (knobs.failCount <= 0)
				return null;
			knobs.failCount--;
		}
		return knobs.failStatus;
	}

	function sendJSON(res, status, obj, entry) {
		const b = JSON.stringify(obj);
		res.writeHead(status, {
			'Content-Type': 'application/json; charset=utf-8',
			'Content-Length': Buffer.byteLength(b),
			'Date': new Date().toUTCString(),
		});
		res.end(b);
		if (entry) {
			entry.status = status;
			if (!entry.outcome)
				entry.outcome = status >= 400 ? 'http_error' : 'done';
		}
	}

	function sendText(res, status, text, head) {
		res.writeHead(status, {
			'Content-Type': 'text/plain; charset=utf-8',
			'Content-Length': Buffer.byteLength(text),
			'Date': new Date().toUTCString(),
		});
		res.end(head ? undefined : text);
	}

	function oaiError(res, status, message, entry) {
		const type = status === 400 ? 'invalid_request_error'
		    : status === 404 ? 'not_found_error' : 'api_error';
		sendJSON(res, status, { error: { message, type, param: null, code: null } }, entry);
	}

	function metrics(p, sent) {
		const ms = (x) => Math.round(x * 1e6);
		return {
			total_duration: ms(Date.now() - p.start),
			load_duration: ms(p.loadMs),
			prompt_eval_count: p.promptTokens,
			prompt_eval_duration: 1000000,
			eval_count: sent,
			eval_duration: ms(Math.max(1, Date.now() - p.start - p.loadMs)),
		};
	}

	// Drive one token stream: emit(i) per token, then finish(); honours the
	// failure knobs. Returns a stop function for client disconnects.
	function runTokens(entry, p, ev) {
		let timer = null, stopped = false, i = 0;
		// One token; returns true when the next one is due at once (paced catch-up).
		const step = () => {
			timer = null;
			while (one())
				;
		};
		const one = () => {
			if (stopped)
				return false;
			if (knobs.stallAfterTokens !== null && i >= knobs.stallAfterTokens) {
				entry.outcome = 'stalled';
				return false;
			}
			if (knobs.errorAfterTokens !== null && i >= knobs.errorAfterTokens) {
				entry.outcome = 'error_line';
				ev.error(knobs.errorMessage);
				return false;
			}
			if (knobs.cutAfterTokens !== null && i >= knobs.cutAfterTokens) {
				entry.outcome = 'cut';
				ev.cut();
				return false;
			}
			const last = i === p.toks.length - 1;
			if (i >= p.toks.length || (last && knobs.textInDone)) {
				entry.outcome = 'done';
				if (last)
					entry.tokensSent = ++i;
				ev.finish(last ? p.toks[i - 1] : '');
				return false;
			}
			ev.token(p.toks[i]);
			entry.tokensSent = ++i;
			// paced: token i is due at t0 + i * delay, so timer lateness does not pile up.
			const wait = knobs.paced ? t0 + i * knobs.tokenDelayMs - Date.now() : knobs.tokenDelayMs;
			if (knobs.paced && wait <= 0)
				return true;
			timer = later(wait, step);
			return false;
		};
		let t0 = 0;
		const first = () => {
			timer = null;
			if (stopped)
				return;
			t0 = Date.now();
			ev.begin();
			// The first token follows the load at once; later ones wait tokenDelayMs.
			step();
		};
		timer = later(knobs.firstByteDelayMs, first);
		return () => { stopped = true; cancelTimer(timer); };
	}

	function streamNative(kind, req, res, body, entry) {
		const o = body.options && typeof body.options === 'object' ? body.options : {};
		const p = plan(kind, body, o.num_predict, o.stop);
		p.start = Date.now();
		p.loadMs = knobs.firstByteDelayMs;
		const model = body.model;
		const stream = body.stream !== false;	// default true (a pointer in Go)
		const field = kind === 'chat' ? 'message' : 'response';
		const piece = (text) => kind === 'chat' ? { role: 'assistant', content: text } : text;
		const lines = [];
		const line = (obj) => {
			if (stream)
				res.write(JSON.stringify(obj) + '\n');
			else
				lines.push(obj);
		};
		const ev = {
			begin() {
				if (stream) {
					res.writeHead(200, {
						'Content-Type': 'application/x-ndjson',
						'Date': new Date().toUTCString(),
					});
					entry.status = 200;
				}
			},
			token(t) {
				line({ model, created_at: rfc3339(), [field]: piece(t), done: false });
			},
			finish(t) {
				const fin = { model, created_at: rfc3339(), [field]: piece(t), done_reason: p.reason, done: true };
				if (kind === 'generate')
					fin.context = [1, 2, 3];
				Object.assign(fin, metrics(p, entry.tokensSent));
				if (stream) {
					line(fin);
					res.end();
					return;
				}
				const all = lines.map((l) => kind === 'chat' ? l.message.content : l.response).join('') + t;
				fin[field] = piece(all);
				sendJSON(res, 200, fin, entry);
			},
			error(msg) {
				if (stream) {
					res.write(JSON.stringify({ error: msg }) + '\n');
					res.end();
				} else {
					// Non-stream buffers everything: the failure gets its real status.
					sendJSON(res, 500, { error: msg }, entry);
					entry.outcome = 'error_line';
				}
			},
			cut() {
				if (stream)
					res.end();
				else
					res.socket && res.socket.destroy();
			},
		};
		return runTokens(entry, p, ev);
	}

	function streamOpenAI(req, res, body, entry) {
		const p = plan('chat', body, body.max_tokens, body.stop);
		p.start = Date.now();
		p.loadMs = knobs.firstByteDelayMs;
		const model = body.model;
		const stream = body.stream === true;	// a plain bool on /v1: default false
		const usageWanted = stream && body.stream_options && body.stream_options.include_usage === true;
		const eol = knobs.sseCrlf ? '\r\n' : '\n';
		const id = 'chatcmpl-' + entry.id;
		const created = Math.floor(Date.now() / 1000);
		const base = () => ({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_ollama' });
		const usage = () => ({ prompt_tokens: p.promptTokens, completion_tokens: entry.tokensSent,
			total_tokens: p.promptTokens + entry.tokensSent });
		let text = '', headersSent = false, ping = null;
		const head = () => {
			if (headersSent)
				return;
			headersSent = true;
			entry.status = 200;
			res.writeHead(200, {
				'Content-Type': 'text/event-stream',
				'Cache-Control': 'no-cache',
				'Connection': 'keep-alive',
				'Date': new Date().toUTCString(),
			});
		};
		const comment = () => res.write(': keep-alive' + eol + eol);
		const data = (s) => {
			if (knobs.sseComments)
				comment();
			res.write('data: ' + s + eol + eol);
		};
		const armPing = () => {
			cancelTimer(ping);
			ping = null;
			if (knobs.sseKeepAliveMs > 0 && stream)
				ping = later(knobs.sseKeepAliveMs, () => { comment(); armPing(); });
		};
		if (stream && knobs.sseKeepAliveMs > 0) {
			head();
			armPing();
		}
		let first = true;
		const ev = {
			begin() {
				if (stream)
					head();
			},
			token(t) {
				text += t;
				if (!stream)
					return;
				const delta = first ? { role: 'assistant', content: t } : { content: t };
				first = false;
				data(JSON.stringify({ ...base(), choices: [{ index: 0, delta, finish_reason: null }] }));
				armPing();
			},
			finish(t) {
				cancelTimer(ping);
				text += t;
				if (!stream) {
					sendJSON(res, 200, {
						id, object: 'chat.completion', created, model, system_fingerprint: 'fp_ollama',
						choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: p.reason }],
						usage: usage(),
					}, entry);
					return;
				}
				if (t)
					ev.token(t);
				data(JSON.stringify({ ...base(), choices: [{ index: 0, delta: {}, finish_reason: p.reason }] }));
				if (usageWanted)
					data(JSON.stringify({ ...base(), choices: [], usage: usage() }));
				data('[DONE]');
				res.end();
			},
			error(msg) {
				cancelTimer(ping);
				if (!stream) {
					oaiError(res, 500, msg, entry);
					entry.outcome = 'error_line';
					return;
				}
				data(JSON.stringify({ error: { code: 500, message: msg, type: 'server_error' } }));
				res.end();
			},
			cut() {
				cancelTimer(ping);
				if (stream)
					res.end();
				else
					res.socket && res.socket.destroy();
			},
		};
		const stop = runTokens(entry, p, ev);
		return () => { cancelTimer(ping); stop(); };
	}

	function inference(kind, req, res, body, entry) {
		const oai = kind === 'openai';
		if (oai && knobs.apiKey && req.headers.authorization !== 'Bearer ' + knobs.apiKey)
			return sendJSON(res, 401, { error: 'Unauthorized' }, entry);
		if (body === undefined) {
			return oai ? oaiError(res, 400, 'invalid request body', entry)
			    : sendJSON(res, 400, { error: 'missing request body' }, entry);
		}
		if (body === null || typeof body !== 'object' || Array.isArray(body)) {
			return oai ? oaiError(res, 400, 'invalid request body', entry)
			    : sendJSON(res, 400, { error: 'invalid character in request body' }, entry);
		}
		if (kind === 'chat' && (typeof body.model !== 'string' || body.model === ''))
			return sendJSON(res, 400, { error: 'model is required' }, entry);
		if (oai && (!Array.isArray(body.messages) || body.messages.length === 0))
			return oaiError(res, 400, "[] is too short - 'messages'", entry);
		if (!hasModel(body.model)) {
			const msg = `model '${body.model ?? ''}' not found`;
			return oai ? oaiError(res, 404, msg, entry) : sendJSON(res, 404, { error: msg }, entry);
		}
		if (!canChat(body.model)) {
			const msg = `"${body.model}" does not support chat`;
			return oai ? oaiError(res, 400, msg, entry) : sendJSON(res, 400, { error: msg }, entry);
		}
		if (oai && body.stream !== true && body.stream_options)
			return oaiError(res, 400, 'stream_options can only be set when stream is true', entry);
		const fail = takeFailure();
		if (fail) {
			const msg = FAIL_BODIES[fail] || http.STATUS_CODES[fail] || 'error';
			return oai ? oaiError(res, fail, msg, entry) : sendJSON(res, fail, { error: msg }, entry);
		}
		if (knobs.hang) {
			entry.outcome = 'hang';
			return null;
		}
		inflight++;
		maxInflight = Math.max(maxInflight, inflight);
		entry.counted = true;
		return oai ? streamOpenAI(req, res, body, entry) : streamNative(kind, req, res, body, entry);
	}

	function tagsBody() {
		return {
			models: knobs.models.map((m) => {
				const i = modelInfo(m);
				const e = {
					name: i.name,
					model: i.name,
					modified_at: '2026-08-01T12:00:00.000000000Z',
					size: 2019393189,
					digest: fakeDigest(typeof m === 'object' ? m.name : m),
					details: {
						parent_model: '',
						format: 'gguf',
						family: i.family,
						families: [i.family],
						parameter_size: i.parameter_size,
						quantization_level: i.quantization_level,
					},
					capabilities: i.capabilities,
				};
				if (i.context_length)
					e.details.context_length = i.context_length;
				if (i.remote_host) {
					e.remote_model = i.name.replace(/-cloud$/, '');
					e.remote_host = i.remote_host;
				}
				return e;
			}),
		};
	}

	function v1Models() {
		return {
			object: 'list',
			data: knobs.models.map((m) => ({ id: fullName(m), object: 'model', created: 1754049600, owned_by: 'library' })),
		};
	}

	function logBody() {
		return {
			requests: requests.map(({ counted, ...r }) => r),
			inflight,
			maxInflight,
		};
	}

	async function control(patch) {
		if (patch.resetLog) {
			requests.length = 0;
			maxInflight = inflight;
		}
		const { resetLog, down, downForMs, ...rest } = patch;
		Object.assign(knobs, rest);
		if (down === true)
			await goDown(downForMs ?? null);
		else if (down === false)
			await goUp();
		return { ...knobs };
	}

	function handle(req, res, raw) {
		const url = new URL(req.url, 'http://x');
		const path = url.pathname;
		const m = req.method;
		if (path === '/_log' && m === 'GET')
			return sendJSON(res, 200, logBody());
		if (path === '/_control' && m === 'POST') {
			let patch;
			try { patch = JSON.parse(raw.toString('utf8') || '{}'); } catch { return sendJSON(res, 400, { error: 'bad json' }); }
			// Answer first: going down closes this very connection.
			const state = { ...knobs, ...patch };
			sendJSON(res, 200, state);
			res.on('finish', () => { control(patch).catch(() => {}); });
			return;
		}
		const entry = {
			id: nextId++, method: m, path, body: null,
			authorization: req.headers.authorization ?? null,
			accept: req.headers.accept ?? null,
			contentType: req.headers['content-type'] ?? null,
			status: null, tokensSent: 0, outcome: null, clientClosed: false,
			startedMs: Date.now(), endedMs: null,
		};
		requests.push(entry);
		let stop = null;
		res.on('close', () => {
			entry.endedMs = Date.now();
			if (!res.writableFinished) {
				entry.clientClosed = true;
				if (!entry.outcome || entry.outcome === 'stalled' || entry.outcome === 'hang')
					entry.outcome = 'client_closed';
			}
			if (stop)
				stop();
			if (entry.counted) {
				entry.counted = false;
				inflight--;
			}
		});
		const head = m === 'HEAD';
		if ((m === 'GET' || head) && path === '/')
			return sendText(res, 200, 'Ollama is running', head), (entry.status = 200, entry.outcome = 'done');
		if ((m === 'GET' || head) && path === '/api/version')
			return sendJSON(res, 200, { version: knobs.version }, entry);
		if ((m === 'GET' || head) && path === '/api/tags')
			return sendJSON(res, 200, tagsBody(), entry);
		if (m === 'GET' && path === '/v1/models') {
			if (knobs.apiKey && req.headers.authorization !== 'Bearer ' + knobs.apiKey)
				return sendJSON(res, 401, { error: 'Unauthorized' }, entry);
			return sendJSON(res, 200, v1Models(), entry);
		}
		const kinds = { '/api/chat': 'chat', '/api/generate': 'generate', '/v1/chat/completions': 'openai' };
		if (m === 'POST' && kinds[path]) {
			let body;
			if (raw.length > 0) {
				try { body = JSON.parse(raw.toString('utf8')); } catch { body = 'bad'; }
			}
			entry.body = body === 'bad' ? null : body ?? null;
			stop = inference(kinds[path], req, res, body === 'bad' ? 'bad' : body, entry);
			return;
		}
		entry.status = 404;
		entry.outcome = 'http_error';
		sendText(res, 404, '404 page not found');
	}

	const server = http.createServer((req, res) => {
		const parts = [];
		let size = 0;
		req.on('data', (c) => {
			size += c.length;
			if (size > MAX_BODY) {
				req.destroy();
				return;
			}
			parts.push(c);
		});
		req.on('end', () => handle(req, res, Buffer.concat(parts)));
	});
	server.requestTimeout = 0;
	server.headersTimeout = 0;
	server.keepAliveTimeout = 5000;
	server.on('connection', (s) => {
		sockets.add(s);
		s.on('close', () => sockets.delete(s));
	});

	function listen() {
		return new Promise((resolve, reject) => {
			const onErr = (e) => reject(e);
			server.once('error', onErr);
			server.listen(port, '127.0.0.1', () => {
				server.off('error', onErr);
				port = server.address().port;
				listening = true;
				resolve();
			});
		});
	}

	async function goDown(ms) {
		knobs.down = true;
		if (listening) {
			listening = false;
			await new Promise((r) => {
				server.close(() => r());
				for (const s of sockets)
					s.destroy();
			});
		}
		if (ms !== null && ms > 0)
			later(ms, () => { goUp().catch(() => {}); });
	}

	async function goUp() {
		knobs.down = false;
		if (!listening)
			await listen();
	}

	await listen();
	if (knobs.down)
		await goDown(knobs.downForMs);

	return {
		get port() { return port; },
		get url() { return 'http://127.0.0.1:' + port; },
		control,
		log: logBody,
		knobs,
		async close() {
			for (const t of timers)
				clearTimeout(t);
			timers.clear();
			for (const s of sockets)
				s.destroy();
			if (listening) {
				listening = false;
				await new Promise((r) => server.close(() => r()));
			}
		},
	};
}

function camel(s) {
	return s.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
}

function parseArgs(argv) {
	const o = {};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (!a.startsWith('--'))
			throw new Error('unexpected argument ' + a);
		let [k, v] = a.slice(2).split(/=(.*)/s, 2);
		k = camel(k);
		const booleans = ['hang', 'down', 'textInDone', 'sseComments', 'sseCrlf', 'paced', 'answerWithModel'];
		if (v === undefined) {
			if (booleans.includes(k)) {
				o[k] = true;
				continue;
			}
			v = argv[++i];
			if (v === undefined)
				throw new Error('missing value for --' + k);
		}
		if (k === 'models')
			o[k] = v.split(',').filter(Boolean);
		else if (booleans.includes(k))
			o[k] = v !== 'false' && v !== '0';
		else if (/^-?\d+$/.test(v) && !['answer', 'apiKey', 'version', 'errorMessage'].includes(k))
			o[k] = Number(v);
		else
			o[k] = v;
		if (!(k in DEFAULTS) && k !== 'port')
			throw new Error('unknown option --' + a.slice(2));
	}
	return o;
}

if (import.meta.url === pathToFileURL(process.argv[1] || '').href) {
	let opts;
	try {
		opts = parseArgs(process.argv.slice(2));
	} catch (e) {
		process.stderr.write('ollama-double: ' + e.message + '\n');
		process.exit(100);
	}
	const d = await startOllamaDouble(opts);
	process.stdout.write('READY ' + d.url + '\n');
	const bye = () => { d.close().then(() => process.exit(0)); };
	process.on('SIGTERM', bye);
	process.on('SIGINT', bye);
}
