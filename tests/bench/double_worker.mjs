// The Ollama double (tests/lib/ollama-double.mjs) in a worker thread, for
// bench.mjs: in the main thread it shares one event loop with the relay,
// whose JavaScript signature checks then delay its answers by milliseconds
// that would be counted as ours. Posts { url } once listening.
import { parentPort, workerData } from 'node:worker_threads';
import { startOllamaDouble } from '../lib/ollama-double.mjs';

const d = await startOllamaDouble(workerData || {});
parentPort.postMessage({ url: d.url });
parentPort.on('message', async (m) => {
  if (m === 'close') { await d.close(); process.exit(0); }
});
