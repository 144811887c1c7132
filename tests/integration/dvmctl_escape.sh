#!/bin/sh
# dvmctl shows what requesters and relays wrote (job errors, relay URLs,
# backend errors, rejection names) without letting it drive the terminal:
# a fake jobd answers every command with ESC, CSI (U+009B), BEL and CR in
# its strings, and no such byte may reach dvmctl's output.
T=dvmctl_escape.sh
. "$(dirname "$0")/../lib/launcher-rig.sh"

mkdir -p "$tmp/s/run"
printf 'state_dir = %s/s\n' "$tmp" >"$tmp/c.conf"
node -e '
	const net = require("net");
	const bad = "x\u001b]0;owned\u0007\u001b[2J\u009b31m\r\u0000y";
	const answers = {
		jobs: { op: "jobs", jobs: [{ id: "a".repeat(64), state: "error" + bad, kind: 5050,
			npub: "npub1" + bad, price_msat: 0, paid_msat: 0, created_at: 1,
			error: "param model: " + bad }] },
		status: { op: "status", online: true, npub: "npub" + bad, payment_mode: "after" + bad,
			model: "m" + bad, spokes: { relayd: true, inferd: true, invoiced: true },
			relays: { connected: 1, total: 1, list: [{ url: "wss://r" + bad, state: "up" + bad }] },
			inference: { ok: false, model_ok: false, backends: [{ url: "http://b" + bad,
				kind: "ollama", ok: false, error: "e" + bad }] },
			payments: { backend: "lnbits", ok: false, error: "w" + bad }, queue: 0, running: 0, uptime: 5 },
		stats: { op: "stats", jobs_by_state: { ["s" + bad]: 1 }, rejections: { ["r" + bad]: 2 } },
		online: { op: "error", message: "no" + bad },
	};
	const s = net.createServer(c => {
		let buf = "";
		c.on("data", d => {
			buf += d;
			const i = buf.indexOf("\n");
			if (i < 0) return;
			const op = JSON.parse(buf.slice(0, i)).op;
			c.end(JSON.stringify(answers[op] || { op: "error", message: "?" }) + "\n");
		});
	});
	s.listen(process.argv[1], () => console.log("READY"));
	setTimeout(() => process.exit(0), 30000);' "$tmp/s/run/control.sock" >"$tmp/fake.out" &
wait_until 10 grep -q READY "$tmp/fake.out" || { fail "fake jobd starts" "$(cat "$tmp/fake.out")"; exit 1; }

# 1 if the file holds a byte a terminal acts on: C0 except newline, DEL,
# or U+0080..U+009F in UTF-8.
raw_controls() {
	od -An -v -tx1 "$1" | tr -s ' ' '\n' | awk '
		$0 == "" { next }
		prev == "c2" && $0 >= "80" && $0 <= "9f" { bad = 1 }
		($0 < "20" && $0 != "0a") || $0 == "7f" { bad = 1 }
		{ prev = $0 }
		END { exit bad ? 0 : 1 }'
}

for cmd in jobs status stats online; do
	"$BIN/dvmctl" -c "$tmp/c.conf" "$cmd" >"$tmp/$cmd.out" 2>&1
	if raw_controls "$tmp/$cmd.out"; then
		fail "dvmctl $cmd escapes control characters" "$(od -c "$tmp/$cmd.out" | head -20)"
	elif ! grep -q 'x\\x1b\]0;owned\\x07\\x1b\[2J\\xc2\\x9b31m\\x0d\\x00y\|x\\x1b' "$tmp/$cmd.out"; then
		fail "dvmctl $cmd escapes control characters" "escaped text not shown: $(cat "$tmp/$cmd.out")"
	else
		pass "dvmctl $cmd escapes control characters"
	fi
done
exit "$failed"
