#!/bin/sh
# wallet = lnd through scripts/dvm, against the LND REST double (https, its
# own tls.cert, an invoice macaroon):
#   - as root with privsep = yes, the launcher hands lnd_macaroon_file to
#     invoiced's user alone (0600) and the wallet answers; relayd's user
#     cannot read the macaroon; the cert stays LND's, readable;
#   - a tls.cert that invoiced's user cannot read stops privsep = yes with
#     a message naming lnd_tls_cert_file (exit 100);
#   - as a normal user (no chown), a macaroon group/other can read stops
#     the start: invoiced exits 100 naming the file, and so does the launcher.
T=launcher_lnd.sh
. "$(dirname "$0")/../lib/launcher-rig.sh"
rig_backends
mkdir -m 755 "$tmp/lnd"
rig_node lnd "$top/tests/lib/lnd-double.mjs" --dir "$tmp/lnd"
lnd_pid=$rig_pid lnd_url=$rig_url
trap 'kill "$lnd_pid" 2>/dev/null; rig_cleanup' EXIT
mac=$tmp/lnd/invoice.macaroon cert=$tmp/lnd/tls.cert
chmod 644 "$cert"

wallet_ok() {
	ctl --json status >"$tmp/st.json" 2>/dev/null || return 1
	node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		process.exit(s.payments && s.payments.backend === "lnd" && s.payments.ok ? 0 : 1);' "$tmp/st.json"
}
lnd_conf() {
	rig_conf "wallet = lnd" "lightning_network = regtest" "lnd_url = $lnd_url" \
		"lnd_macaroon_file = $mac" "lnd_tls_cert_file = $cert" "$@"
}
exits_100() {	# what the log must say
	n=150
	while [ "$n" -gt 0 ] && kill -0 "$lpid" 2>/dev/null; do sleep 0.2; n=$((n - 1)); done
	if kill -0 "$lpid" 2>/dev/null; then
		rig_stop_launcher >/dev/null 2>&1
		return 1
	fi
	wait "$lpid"; rc=$?; lpid=""
	[ "$rc" -eq 100 ] && grep -q "$1" "$tmp/dvm.log"
}

if [ "$(id -u)" -eq 0 ]; then
	chmod 644 "$mac"	# the launcher, as root, fixes the mode as it hands it over
	lnd_conf "privsep = yes"
	rig_start_launcher
	if wait_until 40 wallet_ok; then
		o=$(stat -c '%U %a' "$mac")
		if [ "$o" = "sellcompute-pay 600" ] &&
			! setpriv --reuid=sellcompute-relay --regid=sellcompute-relay --init-groups cat "$mac" >/dev/null 2>&1 &&
			[ "$(stat -c '%U %a' "$cert")" = "root 644" ]; then
			pass "privsep: the macaroon goes to invoiced's user alone (0600), the cert stays LND's, the wallet answers"
		else
			fail "privsep: the macaroon goes to invoiced's user alone (0600), the cert stays LND's, the wallet answers" "macaroon $o, cert $(stat -c '%U %a' "$cert")"
		fi
	else
		fail "privsep: the macaroon goes to invoiced's user alone (0600), the cert stays LND's, the wallet answers" "not up: $(log_tail)"
	fi
	grep -q "$(od -An -tx1 "$mac" | tr -d ' \n' | cut -c1-40)" "$tmp/dvm.log" &&
		fail "the macaroon is in no log" "found in dvm.log" || pass "the macaroon is in no log"
	rig_stop_launcher || fail "privsep: SIGTERM, exit 0" "rc=$?"

	mkdir -m 700 "$tmp/private"
	cp "$cert" "$tmp/private/tls.cert"
	cert=$tmp/private/tls.cert lnd_conf "privsep = yes"
	rig_start_launcher
	exits_100 "sellcompute-pay cannot read lnd_tls_cert_file $tmp/private/tls.cert" &&
		pass "privsep = yes: a tls.cert invoiced's user cannot read stops the start (100)" ||
		fail "privsep = yes: a tls.cert invoiced's user cannot read stops the start (100)" "$(log_tail)"
fi

# A normal user: nothing is chowned, so the mode is the user's to fix.
mkdir "$tmp/user" && cp "$mac" "$tmp/user/invoice.macaroon" && chmod 644 "$tmp/user/invoice.macaroon"
if [ "$(id -u)" -eq 0 ]; then
	chown -R nobody "$tmp/user"
	as_user() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
else
	as_user() { "$@"; }
fi
mac=$tmp/user/invoice.macaroon STATE=$tmp/user/state lnd_conf
as_user env DVM_BIN="$BIN" sh "$top/scripts/dvm" start -c "$conf" >"$tmp/dvm.log" 2>&1 &
lpid=$!
exits_100 "invoiced: error: wallet lnd: $tmp/user/invoice.macaroon: secret file is accessible by group or others (mode 0644); fix with: chmod 600" &&
	grep -q '^dvm: invoiced exited 100' "$tmp/dvm.log" &&
	pass "a 0644 macaroon stops invoiced and the launcher (100) with the fix named" ||
	fail "a 0644 macaroon stops invoiced and the launcher (100) with the fix named" "$(log_tail)"
exit "$failed"
