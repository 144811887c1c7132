#!/bin/sh
# make bench: every benchmark, one table from one run. Needs the optimised
# build (BIN, BENCHDIR are set by the Makefile). bench.mjs runs
# inferd_stream.mjs (row 6) and relayd.mjs (row 7) itself.
set -u
here=$(cd "$(dirname "$0")" && pwd)
echo "machine: $(nproc) cores, $(uname -srm), $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
exec node "$here/bench.mjs" "$@"
