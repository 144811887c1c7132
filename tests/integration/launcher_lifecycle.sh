#!/bin/sh
# scripts/dvm start with the real daemons, a real relay and the Ollama
# double: every stage becomes ready and the DVM answers a request; started
# as root, each stage runs as its own user and owns exactly its files;
# kill -9 of each stage -> restarted and answering again; SIGTERM -> every
# stage gone, exit 0.
T=launcher_lifecycle.sh
. "$(dirname "$0")/../lib/launcher-rig.sh"

rig_backends
rig_conf
rig_start_launcher
if wait_until 40 pipeline_up && wait_until 30 grep -q '^dvm: all stages started' "$tmp/dvm.log" &&
	[ "$(grep -c '^dvm: .* ready (pid' "$tmp/dvm.log")" -eq 5 ] &&
	grep -q '^dvm: all stages started' "$tmp/dvm.log"; then
	pass "start: all five stages (the pane too) ready, jobd online with relay and model"
else
	fail "start: all five stages (the pane too) ready, jobd online with relay and model" "$(log_tail)"
	exit 1
fi
grep -q '^dvm: WARNING: no wallet configured' "$tmp/dvm.log" &&
	pass "free-mode warning without a wallet" || fail "free-mode warning without a wallet" "$(log_tail)"
grep -q 'created a new Nostr identity: npub1' "$tmp/dvm.log" && [ "$(ctl npub)" = "$(node -e '
	console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).npub)' "$tmp/st.json")" ] &&
	pass "first start creates the key and prints the npub jobd uses" ||
	fail "first start creates the key and prints the npub jobd uses" "$(log_tail)"

out=$(ask "hello launcher")
[ "$out" = "Echo: hello launcher" ] && pass "a request is answered" ||
	fail "a request is answered" "got '$out'; $(tail -n 3 "$tmp/dvmreq.err" | tr '\n' '|')"

if [ "$(id -u)" -eq 0 ]; then
	bad=""
	for s in relayd:sellcompute-relay inferd:sellcompute-infer invoiced:sellcompute-pay jobd:sellcompute-job; do
		p=$(stage_pid "${s%%:*}") || { bad="$bad ${s%%:*}:nopid"; continue; }
		u=$(ps -o user= -p "$p" | tr -d ' ')
		# ps truncates long names to 8 chars + "+"; compare the uid instead.
		[ "$(ps -o uid= -p "$p" | tr -d ' ')" = "$(id -u "${s#*:}")" ] || bad="$bad ${s%%:*}:$u"
		grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$p/status" || bad="$bad ${s%%:*}:nnp"
		grep -q '^CapBnd:[[:space:]]*0000000000000000' "/proc/$p/status" || bad="$bad ${s%%:*}:capbnd"
	done
	[ -z "$bad" ] && pass "privsep: each stage runs as its own user, no new privileges, empty bounding set" ||
		fail "privsep: each stage runs as its own user, no new privileges, empty bounding set" "$bad"
	own() { stat -c '%U %a' "$1"; }
	k=$(own "$tmp/state/key") j=$(own "$tmp/state/jobs.db") i=$(own "$tmp/state/invoices.db")
	r=$(stat -c '%U' "$tmp/state/run/relayd/relayd.sock") n=$(stat -c '%U' "$tmp/state/run/inferd/inferd.sock")
	if [ "$k" = "sellcompute-job 600" ] && [ "$j" = "sellcompute-job 600" ] &&
		[ "$i" = "sellcompute-pay 600" ] && [ "$r" = sellcompute-relay ] && [ "$n" = sellcompute-infer ]; then
		pass "privsep: key and ledger belong to jobd, invoices to invoiced, sockets to their stage"
	else
		fail "privsep: key and ledger belong to jobd, invoices to invoiced, sockets to their stage" "key=$k jobs=$j inv=$i relayd.sock=$r inferd.sock=$n"
	fi
	# Each spoke's socket directory is its user's alone: relayd's user can
	# create nothing in run/ nor in invoiced's directory.
	bad=""
	for s in relayd:sellcompute-relay inferd:sellcompute-infer invoiced:sellcompute-pay; do
		d=$tmp/state/run/${s%%:*}
		[ "$(stat -c '%U %G %a' "$d")" = "${s#*:} ${s#*:} 750" ] || bad="$bad $(stat -c '%n=%U:%G:%a' "$d")"
	done
	for d in "$tmp/state/run" "$tmp/state/run/invoiced"; do
		setpriv --reuid=sellcompute-relay --regid=sellcompute-relay --init-groups touch "$d/planted" 2>/dev/null &&
			bad="$bad relayd-wrote-in-$d"
	done
	[ -z "$bad" ] && pass "privsep: a run/NAME/ per spoke (its user, 0750); relayd's user cannot create in run/ or run/invoiced/" ||
		fail "privsep: a run/NAME/ per spoke (its user, 0750); relayd's user cannot create in run/ or run/invoiced/" "$bad"
	# relayd's user can neither read the key nor talk to inferd; jobd's can.
	if ! setpriv --reuid=sellcompute-job --regid=sellcompute-job --init-groups "$BIN/dvmctl" -c "$conf" probe inferd ||
		setpriv --reuid=sellcompute-relay --regid=sellcompute-relay --init-groups cat "$tmp/state/key" >/dev/null 2>&1 ||
		setpriv --reuid=sellcompute-relay --regid=sellcompute-relay --init-groups "$BIN/dvmctl" -c "$conf" probe inferd 2>/dev/null; then
		fail "privsep: relayd's user cannot read the key or connect to inferd" "it could (or jobd's user could not)"
	else
		pass "privsep: relayd's user cannot read the key or connect to inferd"
	fi
else
	pass "not root: privsep path not exercised here (every stage runs as $(id -un))"
fi

for s in relayd inferd invoiced jobd; do
	old=$(stage_pid "$s")
	kill -KILL "$old"
	if wait_until 20 sh -c "p=\$(for r in \$(pgrep -P $lpid); do pgrep -P \$r -x $s; done); [ -n \"\$p\" ] && [ \"\$p\" != $old ]" &&
		wait_until 20 pipeline_up && out=$(ask "after killing $s") && [ "$out" = "Echo: after killing $s" ]; then
		pass "kill -9 $s: restarted and answering again"
	else
		fail "kill -9 $s: restarted and answering again" "out='$out' $(log_tail)"
	fi
done

pids=""
for s in relayd inferd invoiced jobd; do pids="$pids $(stage_pid "$s")"; done
rig_stop_launcher; rc=$?
left=""
for p in $pids; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
if [ "$rc" -eq 0 ] && [ -z "$left" ] && grep -q '^dvm: stopped' "$tmp/dvm.log"; then
	pass "SIGTERM: every stage stopped, exit 0"
else
	fail "SIGTERM: every stage stopped, exit 0" "rc=$rc left=$left $(log_tail)"
fi
order=$(grep '^dvm: [a-z]* stopped$' "$tmp/dvm.log" | awk '{print $2}' | tr '\n' ' ')
[ "$order" = "paned jobd relayd invoiced inferd " ] && pass "stop order is the reverse of start" ||
	fail "stop order is the reverse of start" "$order"
if grep -q 'ERROR: \(Address\|Leak\)Sanitizer\|runtime error:' "$tmp/dvm.log"; then
	fail "no sanitizer report from any stage" "$(grep -m 3 'Sanitizer\|runtime error' "$tmp/dvm.log" | tr '\n' '|')"
else
	pass "no sanitizer report from any stage"
fi
exit "$failed"
