#!/usr/bin/env bash
# `make loadtest`: load a RUNNING Inlet with production-like Segment traffic through wrk, for a
# bounded time, and report what it committed.
#
# Prints messages/s committed (rows counted in PostgreSQL before and after, not wrk's requests),
# wrk's latency percentiles, and the count of every response status and socket error; and draws
# the run as a chart (PNG: committed messages/s and ingest p99 per second, sampled from Inlet's
# /metrics) in .local/loadtest/.
#
# Environment (defaults fit `make run`):
#   INLET_URL      http://127.0.0.1:8080
#   INLET_TOKEN    the token in .local/demo-token
#   DATABASE_URL   the database Inlet writes to (default: the `make run` cluster)
#   BATCH          messages per body (100)            SHAPE  batch|array|single|mix (batch)
#   CONNECTIONS    wrk connections (16)               THREADS  wrk threads (2)
#   DURATION       seconds, at most 600 (20)          RATE   target messages/s; 0 = flat out (0)
#   MESSAGES       messages in the body pool (20000)  SEED   generator seed (1)
#   RESEND         percent of requests that repeat an earlier request of the run byte for byte
#                  (0): clients retrying after a timeout, a Replay over stored data
#   MONTHS_BACK    timestamps spread over this many months before now (3; 36: a Replay of
#                  three years)
#   CHART          PNG to draw (default .local/loadtest/<run>.png; "none": no chart); the
#                  per-second samples go beside it (.csv). CEILING draws a rate as a dashed line
# The last line is machine-readable (LOADTEST key=value ...), for scripts/bench.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

url=${INLET_URL:-http://127.0.0.1:8080}
batch=${BATCH:-100}
shape=${SHAPE:-batch}
connections=${CONNECTIONS:-16}
threads=${THREADS:-2}
duration=${DURATION:-20}
rate=${RATE:-0}
messages=${MESSAGES:-20000}
seed=${SEED:-1}
resend=${RESEND:-0}
months_back=${MONTHS_BACK:-3}
[ "$duration" -ge 1 ] && [ "$duration" -le 600 ] || { echo "loadtest: DURATION must be 1..600 seconds" >&2; exit 2; }
[ "$threads" -le "$connections" ] || threads=$connections

log() { echo "loadtest: $*" >&2; }

if ! command -v wrk >/dev/null; then
    log "installing wrk"
    if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
command -v psql >/dev/null || scripts/localpg.sh packages

token=${INLET_TOKEN:-$(cat .local/demo-token 2>/dev/null || true)}
[ -n "$token" ] || { log "no token: set INLET_TOKEN (or run \`make run\`, which writes .local/demo-token)"; exit 2; }
if [ -z "${DATABASE_URL:-}" ]; then
    [ -f .local/run/port ] || { log "set DATABASE_URL to the database Inlet writes to"; exit 2; }
    DATABASE_URL=$(scripts/localpg.sh url run)
fi
curl -fsS -o /dev/null "$url/readyz" || { log "Inlet is not ready at $url/readyz"; exit 1; }

# The body pool, generated once per parameter set.
mkdir -p .local/loadtest
bodies=".local/loadtest/bodies-$shape-b$batch-m$messages-s$seed-mb$months_back-$(date -u +%Y%m%d).jsonl"
if [ ! -s "$bodies" ]; then
    python3 scripts/loadgen/loadgen.py --seed "$seed" --messages "$messages" --batch "$batch" --shape "$shape" \
        --months-back "$months_back" --out-bodies "$bodies.tmp"
    mv "$bodies.tmp" "$bodies"
fi

count_rows() {
    psql -X -q -tA "$DATABASE_URL" -c "SELECT (SELECT count(*) FROM events.tracks) + (SELECT count(*) FROM events.identifies)
        + (SELECT count(*) FROM events.pages) + (SELECT count(*) FROM events.screens)
        + (SELECT count(*) FROM events.groups) + (SELECT count(*) FROM events.aliases)"
}

# Pacing: each wrk thread sends its share of RATE messages/s on a schedule (one request every
# INLET_WRK_INTERVAL_MS, whichever of its connections is free), so the offered rate does not
# depend on the response time or the number of connections.
interval_ms=0
if [ "$rate" -gt 0 ]; then
    per_body=$batch; [ "$shape" = single ] && per_body=1
    interval_ms=$(awk -v t="$threads" -v b="$per_body" -v r="$rate" 'BEGIN { printf "%.3f", t * b * 1000 / r }')
fi

run_id="L$(date +%s)x$$"
chart=${CHART:-.local/loadtest/$run_id.png}
sampler=""
if [ "$chart" != none ]; then
    # One sample a second for the run and the drain after it (≤ 30 s), ended when that is over.
    python3 scripts/loadgen/timeline.py "$url" "${chart%.png}.csv" $((duration + 31)) & sampler=$!
    trap '[ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true' EXIT
fi
before=$(count_rows)
log "$url: shape=$shape batch=$batch connections=$connections threads=$threads duration=${duration}s rate=${rate:-0} (pool $bodies)"
auth=$(printf '%s:' "$token" | base64 -w0)
wrk_out=$(INLET_WRK_INTERVAL_MS=$interval_ms INLET_RESEND_PERCENT=$resend wrk -t"$threads" -c"$connections" -d"${duration}s" --timeout 30s \
    -H "Authorization: Basic $auth" -s scripts/loadgen/inlet.lua "$url" -- "$bodies" "$run_id")
# Requests in flight when wrk stopped still commit: wait until the count stops moving (≤ 30 s).
after=$(count_rows)
for _ in $(seq 1 30); do
    sleep 1
    now=$(count_rows)
    [ "$now" = "$after" ] && break
    after=$now
done

line=$(grep '^WRK ' <<<"$wrk_out")
if [ -n "$sampler" ]; then
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    sampler=""
    tools=$(scripts/python-tools.sh bin chart-tools scripts/loadgen/requirements.txt)
    panel="$shape bodies of $batch, $connections connections${RATE:+, $rate msg/s offered}, resends $resend %=${chart%.png}.csv"
    [ -n "${CEILING:-}" ] && panel="$panel@$CEILING"
    "$tools/python" scripts/loadgen/chart.py "$chart" "make loadtest, $(date -u +%Y-%m-%dT%H:%MZ), $url" "$panel"
fi
get() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$line"; }
wrk_duration=$(get duration_s)
committed=$((after - before))
rate_committed=$(awk -v n="$committed" -v d="$wrk_duration" 'BEGIN { printf "%.0f", n / d }')
statuses=$(get statuses)
non2xx=$(tr ',' '\n' <<<"$statuses" | awk -F= '$1 !~ /^2/ { n += $2 } END { print n + 0 }')

cat <<TXT

  committed       $committed messages in ${wrk_duration}s = $rate_committed messages/s (counted in PostgreSQL)
  Inlet accepted  $(get accepted) messages in 200 responses, $(get duplicates) as duplicates ($(get resends) requests resent)
  requests        $(get requests) ($shape bodies of $batch, $connections connections)
  latency         p50 $(get p50_ms) ms   p90 $(get p90_ms) ms   p99 $(get p99_ms) ms   p99.9 $(get p999_ms) ms   max $(get max_ms) ms
  statuses        $statuses   (non-2xx: $non2xx)
  socket errors   $(get socket_errors)
  chart           ${chart/#none/(none)}

LOADTEST committed=$committed duration_s=$wrk_duration rate=$rate_committed duplicates=$(get duplicates) non2xx=$non2xx statuses=$statuses p50_ms=$(get p50_ms) p90_ms=$(get p90_ms) p99_ms=$(get p99_ms) p999_ms=$(get p999_ms) max_ms=$(get max_ms)
TXT
