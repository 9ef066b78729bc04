#!/usr/bin/env bash
# One shape of load on a fresh cluster, with what PostgreSQL spent on it: the runs behind the
# paired A/B figures in docs/PERFORMANCE.md ("the command that produced them").
#
#   scripts/profile-shape.sh                       # s1: bodies of 100, 16 connections, 20 s
#   MONTHS_BACK=36 scripts/profile-shape.sh        # s4, cold: months made on demand
#   MONTHS_BACK=36 PRE_MONTHS=40 scripts/profile-shape.sh   # s4 with its months made before
#   INLET_BIN=/tmp/old scripts/profile-shape.sh    # another build (a folder with inlet, migrator)
#
# Each run: a fresh durable cluster "profile" (as make bench's: shared_buffers=1GB,
# max_wal_size=8GB, plus pg_stat_statements), migrations, a tenant, the months from PRE_MONTHS
# (4) back to now, release `inlet serve` on PROFILE_PORT (18181), then scripts/loadtest.sh with
# the same environment (SHAPE BATCH CONNECTIONS DURATION RESEND MONTHS_BACK RATE CHART ...).
# Prints the LOADTEST line, inlet's CPU ticks, PostgreSQL's top statements (TOP, 12) and the
# restaged-transaction count; HIST=1 adds Inlet's latency and batch-size histograms; PERF=1
# records inlet with perf into .local/profile-shape/perf.data; and the page cache's Dirty and
# Writeback (kB) are sampled once a second into .local/profile-shape/dirty.csv (the kernel's writeback
# of expired dirty pages stalls commits on this machine). KEEP=1 leaves the cluster.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${INLET_BIN:-$(swift build -c release --show-bin-path)}
port=${PROFILE_PORT:-18181}
out=.local/profile-shape  # beside, not inside, the cluster's own .local/profile
mkdir -p "$out"

scripts/localpg.sh destroy profile >/dev/null 2>&1 || true
DATABASE_URL=$(PG_SERVER_OPTS="-c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=30min -c shared_preload_libraries=pg_stat_statements" \
    scripts/localpg.sh start profile)
export DATABASE_URL
psql_=(psql -X -q -tA -v ON_ERROR_STOP=1 "$DATABASE_URL")
"$bin/migrator" up >/dev/null
token=$("$bin/inlet" tenant create profile --json | sed -E 's/.*"token":"([^"]+)".*/\1/')
"${psql_[@]}" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
"${psql_[@]}" -c "SELECT inlet.ensure_month_partitions(m) FROM generate_series(date_trunc('month', now()) - make_interval(months => ${PRE_MONTHS:-4}), now(), interval '1 month') m" >/dev/null

inlet_pid="" perf_pid="" sampler_pid=""
cleanup() {
    for pid in $sampler_pid $perf_pid; do kill "$pid" 2>/dev/null || true; done
    if [ -n "$inlet_pid" ]; then kill -TERM "$inlet_pid" 2>/dev/null || true; wait "$inlet_pid" || true; fi
    [ -n "${KEEP:-}" ] || scripts/localpg.sh destroy profile >/dev/null 2>&1 || true
}
trap cleanup EXIT
INLET_HOST=127.0.0.1 INLET_PORT=$port "$bin/inlet" serve > "$out/inlet.log" 2>&1 & inlet_pid=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && break; sleep 0.1; done
"${psql_[@]}" -c "SELECT pg_stat_statements_reset()" >/dev/null

ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$inlet_pid/stat"; }
t0=$(ticks)
{ echo "second,dirty_kb,writeback_kb"; s=0
  while sleep 1; do s=$((s + 1)); awk -v s=$s '/^Dirty:/ { d = $2 } /^Writeback:/ { w = $2 } END { print s "," d "," w }' /proc/meminfo; done
} > "$out/dirty.csv" & sampler_pid=$!
if [ -n "${PERF:-}" ]; then
    perf record -F 999 -g -p "$inlet_pid" -o "$out/perf.data" -- sleep "${DURATION:-20}" >/dev/null 2>&1 & perf_pid=$!
fi
INLET_URL=http://127.0.0.1:$port INLET_TOKEN=$token CHART=${CHART:-none} scripts/loadtest.sh 2>"$out/loadtest.err" | grep LOADTEST \
    || { cat "$out/loadtest.err" >&2; exit 1; }
if [ -n "$perf_pid" ]; then wait "$perf_pid" || true; perf_pid=""; fi
kill "$sampler_pid" 2>/dev/null || true; sampler_pid=""
echo "inlet CPU ticks: $(( $(ticks) - t0 )) (of $(getconf CLK_TCK)/s)"
echo "dirty page cache, max kB: $(awk -F, 'NR > 1 && $2 > m { m = $2 } END { print m + 0 }' "$out/dirty.csv"); writeback, max kB: $(awk -F, 'NR > 1 && $3 > m { m = $3 } END { print m + 0 }' "$out/dirty.csv")"
"${psql_[@]}" -F ' | ' -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 2) AS mean_ms,
    left(regexp_replace(query, '\s+', ' ', 'g'), 90) FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT ${TOP:-12}"
pattern="^inlet_transactions_restaged_total"
[ -n "${HIST:-}" ] && pattern="$pattern|^inlet_(http_request_duration_seconds|queue_wait_seconds|commit_duration_seconds|copy_batch_rows)_bucket"
curl -fsS "http://127.0.0.1:$port/metrics" | grep -E "$pattern" || true
