// group-signal.mjs SIGNAL LOG PATTERN -- COMMAND ARGS...
// Runs COMMAND as the leader of a new process group, with default signal
// dispositions (libuv resets them in the child), its output appended to
// LOG: as a shell with job control runs a foreground job in a terminal.
// Once LOG holds PATTERN, sends SIGNAL to the whole group, as a terminal's
// Ctrl-C (SIGINT) or `timeout` (SIGTERM) does, then prints "exit N" or
// "signal NAME" when COMMAND ends. Gives up (kills the group, exit 1)
// after 60 s.
import { spawn } from 'node:child_process';
import fs from 'node:fs';

const [sig, log, pattern, dashes, cmd, ...args] = process.argv.slice(2);
if (dashes !== '--' || !cmd) {
	console.error('usage: group-signal.mjs SIGNAL LOG PATTERN -- COMMAND ARGS...');
	process.exit(100);
}
const out = fs.openSync(log, 'a');
const p = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out] });
const give_up = setTimeout(() => {
	try { process.kill(-p.pid, 'SIGKILL'); } catch { /* gone */ }
	console.log('timeout');
	process.exit(1);
}, 60000);
const poll = setInterval(() => {
	if (fs.readFileSync(log, 'utf8').includes(pattern)) {
		clearInterval(poll);
		process.kill(-p.pid, sig);
	}
}, 100);
p.on('exit', (code, signal) => {
	clearInterval(poll);
	clearTimeout(give_up);
	console.log(signal ? `signal ${signal}` : `exit ${code}`);
});
