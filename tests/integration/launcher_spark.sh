#!/bin/sh
# scripts/dvm with wallet = spark and spark_mnemonic_file: the launcher runs
# scripts/spark-bridge as the first stage (as sellcompute-spark under
# privsep: invoiced's user cannot read the mnemonic, only open the socket)
# on STATE_DIR/run/spark-bridge.sock, invoiced finds it there with no
# spark_url, and a pay-before job is paid through it end to end. The bridge
# runs unchanged on a fake SDK (tests/lib/spark-sdk-fake, loaded through
# NODE_OPTIONS; it pays every invoice 0.5 s after it is made): no network.
# kill -9 of the bridge -> restarted; SIGHUP does not kill it; SIGTERM stops
# it last. A network Spark does not have, a TCP spark_url or an API key for
# the bridge run here are refused with exit 100 and the reason.
T=launcher_spark.sh
RIG_LIMIT=100
. "$(dirname "$0")/../lib/launcher-rig.sh"

rig_backends
printf 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about\n' >"$tmp/spark.mnemonic"
chmod 600 "$tmp/spark.mnemonic"
rig_conf "wallet = spark" "lightning_network = regtest" "spark_mnemonic_file = $tmp/spark.mnemonic" \
	"payment_mode = before" "invoice_poll_fast_ms = 200"
export NODE_OPTIONS="--import=$top/tests/lib/spark-sdk-fake/register.mjs" SPARK_FAKE_AUTOPAY_MS=500
rig_start_launcher
unset NODE_OPTIONS SPARK_FAKE_AUTOPAY_MS

bridge_pid() {
	for r in $(pgrep -P "$lpid"); do
		p=$(pgrep -P "$r" -f 'spark-bridge/bridge.mjs') && { echo "$p" | head -n 1; return 0; }
	done
	return 1
}

# The wallet reachable through the bridge: invoiced's health, in jobd's status.
wallet_up() {
	pipeline_up || return 1
	node -e '
		const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		process.exit(s.payments.ok && s.payments.balance_msat === 50000000 ? 0 : 1);' "$tmp/st.json"
}

if wait_until 50 wallet_up && [ "$(grep -c '^dvm: .* ready (pid' "$tmp/dvm.log")" -eq 6 ] &&
	[ "$(grep '^dvm: .* ready (pid' "$tmp/dvm.log" | head -n 1 | awk '{print $2}')" = spark-bridge ] &&
	grep -q '^spark-bridge: fake sdk: initialize network REGTEST account 0$' "$tmp/dvm.log"; then
	pass "start: the bridge first (REGTEST, account 0), then five stages; wallet reachable with its balance"
else
	fail "start: the bridge first (REGTEST, account 0), then five stages; wallet reachable with its balance" "$(log_tail)"
	exit 1
fi

sock=$tmp/state/run/spark-bridge.sock
if [ "$(id -u)" -eq 0 ] && grep -q '^dvm: privilege separation: .*spark-bridge as sellcompute-spark' "$tmp/dvm.log"; then
	p=$(bridge_pid)
	u=$(ps -o uid= -p "$p" | tr -d ' ')
	s=$(stat -c '%U %G %a' "$sock") m=$(stat -c '%U %a' "$tmp/spark.mnemonic")
	if [ "$u" = "$(id -u sellcompute-spark)" ] && [ "$s" = "sellcompute-spark sellcompute-spark 660" ] &&
		[ "$m" = "sellcompute-spark 600" ] && grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$p/status" &&
		grep -q '^CapBnd:[[:space:]]*0000000000000000' "/proc/$p/status"; then
		pass "privsep: the bridge runs as sellcompute-spark and owns its socket (0660) and the mnemonic"
	else
		fail "privsep: the bridge runs as sellcompute-spark and owns its socket (0660) and the mnemonic" "uid=$u sock=$s mnemonic=$m"
	fi
	as() { u=$1; shift; setpriv --reuid="$u" --regid="$u" --init-groups "$@"; }
	can_open() {	# user
		as "$1" node -e 'require("net").connect(process.argv[1])
			.on("connect", () => process.exit(0)).on("error", () => process.exit(1))' "$sock"
	}
	if can_open sellcompute-pay && ! can_open sellcompute-relay &&
		! as sellcompute-pay cat "$tmp/spark.mnemonic" >/dev/null 2>&1; then
		pass "privsep: invoiced's user can open the bridge but not read the mnemonic; relayd's cannot open it"
	else
		# shellcheck disable=SC2012 # ls -l only prints owners and modes for the failure message
		fail "privsep: invoiced's user can open the bridge but not read the mnemonic; relayd's cannot open it" "$(ls -l "$sock" "$tmp/spark.mnemonic" | tr '\n' '|')"
	fi
else
	[ "$(stat -c %a "$sock")" = 600 ] && pass "the bridge's socket is 0600 (no privsep here)" ||
		fail "the bridge's socket is 0600 (no privsep here)" "$(stat -c %a "$sock")"
fi

out=$(ask "paid through spark")
if [ "$out" = "Echo: paid through spark" ] && grep -q 'payment-required' "$tmp/dvmreq.err" &&
	[ "$(ctl stats --json | node -e '
		let s = ""; process.stdin.on("data", (d) => { s += d; }).on("end", () => {
			const j = JSON.parse(s); console.log(j.sats_received > 0 ? "paid" : s); });')" = paid ]; then
	pass "a pay-before job: invoice from the bridge, paid, answered"
else
	fail "a pay-before job: invoice from the bridge, paid, answered" "got '$out'; $(tail -n 4 "$tmp/dvmreq.err" | tr '\n' '|')"
fi

old=$(bridge_pid)
kill -HUP "$lpid"
wait_until 10 grep -q '^spark-bridge: SIGHUP: nothing to re-read' "$tmp/dvm.log" && sleep 0.5 &&
	[ "$(bridge_pid)" = "$old" ] &&
	pass "SIGHUP: the bridge logs it and keeps running" ||
	fail "SIGHUP: the bridge logs it and keeps running" "$(log_tail)"

kill -KILL "$old"
if wait_until 20 sh -c "p=\$(for r in \$(pgrep -P $lpid); do pgrep -P \$r -f spark-bridge/bridge.mjs; done); [ -n \"\$p\" ] && [ \"\$p\" != $old ]" &&
	grep -q '^dvm: spark-bridge was killed by signal 9; restarting' "$tmp/dvm.log" &&
	wait_until 30 wallet_up && out=$(ask "after killing the bridge") && [ "$out" = "Echo: after killing the bridge" ]; then
	pass "kill -9 the bridge: restarted, and paid jobs are answered again"
else
	fail "kill -9 the bridge: restarted, and paid jobs are answered again" "out='$out' $(log_tail)"
fi

p=$(bridge_pid)
rig_stop_launcher; rc=$?
order=$(grep '^dvm: [a-z-]* stopped$' "$tmp/dvm.log" | awk '{print $2}' | tr '\n' ' ')
if [ "$rc" -eq 0 ] && ! kill -0 "$p" 2>/dev/null && [ "$order" = "paned jobd relayd invoiced inferd spark-bridge " ]; then
	pass "SIGTERM: every stage and the bridge stopped (the bridge last), exit 0"
else
	fail "SIGTERM: every stage and the bridge stopped (the bridge last), exit 0" "rc=$rc order=$order $(log_tail)"
fi

# Service directories: the bridge gets one too, for s6 (readiness on fd 3)
# and runit (a probe of its socket), with the same command line.
sv_ok=1
for kind in s6 runit; do
	DVM_BIN=$BIN sh "$top/scripts/dvm" services "$kind" "$tmp/$kind" -c "$conf" >"$tmp/gen.log" 2>&1 || sv_ok=0
	d=$tmp/$kind/sellcompute-spark-bridge
	grep -q "bridge.mjs' --listen 'unix:$tmp/state/run/spark-bridge.sock' --mnemonic-file '$tmp/spark.mnemonic' --network REGTEST" "$d/run" || sv_ok=0
	if grep -q '^dvm: privilege separation' "$tmp/dvm.log"; then
		grep -q 'setpriv --reuid=sellcompute-spark .*--socket-mode 660' "$d/run" || sv_ok=0
	fi
	[ -x "$d/finish" ] && [ -x "$d/log/run" ] || sv_ok=0
done
[ "$(cat "$tmp/s6/sellcompute-spark-bridge/notification-fd" 2>/dev/null)" = 3 ] &&
	grep -q -- '--notify-fd 3$' "$tmp/s6/sellcompute-spark-bridge/run" &&
	grep -q 'probe spark-bridge$' "$tmp/runit/sellcompute-spark-bridge/check" || sv_ok=0
# shellcheck disable=SC2002 # cat, not a redirect: a missing run file's error is part of the message
[ "$sv_ok" -eq 1 ] && pass "services s6 and runit: a service directory for the bridge" ||
	fail "services s6 and runit: a service directory for the bridge" "$(cat "$tmp/gen.log") $(cat "$tmp/s6/sellcompute-spark-bridge/run" 2>&1 | tr '\n' '|')"

# Refused before anything starts: exit 100 and the reason.
refused() {	# what reason-pattern config-lines...
	what=$1 why=$2; shift 2
	cp "$tmp/dvm.log" "$tmp/dvm.log.before"
	rig_conf "wallet = spark" "spark_mnemonic_file = $tmp/spark.mnemonic" "$@"
	rig_start_launcher
	if wait_until 20 sh -c "! kill -0 $lpid 2>/dev/null"; then
		wait "$lpid"; rc=$?; lpid=""
		[ "$rc" -eq 100 ] && grep -q "$why" "$tmp/dvm.log" && ! grep -q 'ready (pid' "$tmp/dvm.log" &&
			pass "$what: exit 100 with the reason, nothing started" ||
			fail "$what: exit 100 with the reason, nothing started" "rc=$rc $(log_tail)"
	else
		fail "$what: exit 100 with the reason, nothing started" "still running: $(log_tail)"
	fi
	cat "$tmp/dvm.log" >>"$tmp/dvm.log.before"; mv "$tmp/dvm.log.before" "$tmp/dvm.log"
}
refused "lightning_network = signet" 'lightning_network = signet: Spark has only bitcoin (MAINNET) and regtest' \
	"lightning_network = signet"
refused "a TCP spark_url" 'spark_url = http://127.0.0.1:8765: the bridge run here listens only on a Unix socket' \
	"spark_url = http://127.0.0.1:8765"
refused "an API key for the bridge run here" 'spark_api_key_file is for a bridge you run yourself' \
	"spark_api_key_file = $tmp/spark.mnemonic"
if grep -q 'ERROR: \(Address\|Leak\)Sanitizer\|runtime error:' "$tmp/dvm.log"; then
	fail "no sanitizer report from any stage" "$(grep -m 3 'Sanitizer\|runtime error' "$tmp/dvm.log" | tr '\n' '|')"
else
	pass "no sanitizer report from any stage"
fi
exit "$failed"
