#!/usr/bin/env bash
# make chaos: faults under load on a throwaway cluster (.local/chaos); prints a table and fails on
# any lost or duplicated acknowledged message. SHORT=1 runs the short version (~40 s).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/localpg.sh packages
command -v python3 >/dev/null || { echo "chaos: python3 is required" >&2; exit 2; }
swift build --product inlet
swift build --product migrator
bin=$(swift build --show-bin-path)
scripts/localpg.sh destroy chaos
DATABASE_URL=$(scripts/localpg.sh start chaos)
export DATABASE_URL
# If the run dies while PostgreSQL is frozen, wake the cluster's postmaster and its children (by
# pid, from its postmaster.pid) so that it can be stopped.
resume_cluster() {
    local master
    master=$(head -n 1 "$(cat .local/chaos/datadir)/postmaster.pid" 2>/dev/null) || return 0
    kill -CONT "$master" $(pgrep -P "$master") 2>/dev/null || true
}
trap 'resume_cluster; scripts/localpg.sh destroy chaos' EXIT
"$bin/migrator" up >/dev/null
TOKEN=$("$bin/inlet" tenant create chaos --json | sed -E 's/.*"token":"([^"]+)".*/\1/')
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export TOKEN PORT
# Bodies for the overload (wrk, 500 messages each), generated once.
OVERLOAD_BODIES=.local/chaos-overload-bodies.jsonl
[ -s "$OVERLOAD_BODIES" ] || python3 scripts/loadgen/loadgen.py --seed 7 --messages 5000 --batch 500 --shape batch \
    --out-bodies "$OVERLOAD_BODIES"
export OVERLOAD_BODIES
INLET_BIN="$bin/inlet" PG_CLUSTER=chaos python3 scripts/chaos/chaos.py
