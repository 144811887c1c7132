#!/bin/sh
# scripts/deps.sh (make deps): install every Debian package the build and the
# tests need, then the npm test tools. Idempotent: a second run installs
# nothing new. Needs root (or sudo) for apt-get.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

# chromium: the real browser that tests/integration/pane_browser.mjs drives
# (through puppeteer-core, executablePath /usr/bin/chromium).
# openssl (the CLI): the LND double makes its self-signed tls.cert with it.
debs="build-essential pkg-config clang libsecp256k1-dev libwebsockets-dev
libcurl4-openssl-dev libcjson-dev libssl-dev libsqlite3-dev sqlite3 openssl
s6 runit shellcheck cppcheck valgrind curl util-linux procps psmisc
chromium"

missing=""
for p in $debs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
# The machine image ships Node.js with npm; Debian's own are the fallback.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "deps: installing:$missing"
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
else
	echo "deps: Debian packages present"
fi

newer() {	# FILE REF: is FILE newer than REF? (test -nt is not POSIX)
	[ -n "$(find "$1" -prune -newer "$2" 2>/dev/null)" ]
}

# npm ci starts from scratch every time; skip it when node_modules already
# matches the lock file (npm writes node_modules/.package-lock.json last, so
# it is newer than a lock file it installed from).
for d in tests scripts/spark-bridge; do
	[ -f "$top/$d/package.json" ] || continue
	lock=$top/$d/package-lock.json
	done_mark=$top/$d/node_modules/.package-lock.json
	if [ -f "$lock" ] && [ -f "$done_mark" ] && newer "$done_mark" "$lock" &&
	    newer "$done_mark" "$top/$d/package.json"; then
		echo "deps: $d/node_modules up to date"
		continue
	fi
	if [ -f "$lock" ]; then
		(cd "$top/$d" && npm ci --no-audit --no-fund --loglevel=error)
	else
		(cd "$top/$d" && npm install --no-audit --no-fund --loglevel=error)
	fi
done
# npm 11 skips better-sqlite3's build script; it builds offline against the
# Node headers from Debian's nodejs package.
sq=$top/tests/node_modules/better-sqlite3
if [ -d "$sq" ] && ! [ -f "$sq/build/Release/better_sqlite3.node" ]; then
	(cd "$top/tests" && npm rebuild better-sqlite3 --loglevel=error >/dev/null)
fi
echo "deps: done"
