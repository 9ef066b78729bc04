#!/usr/bin/env bash
# `make bench`: Inlet against the physical limit of its design, PostgreSQL's own COPY, on this
# machine, in one run that prints one table.
#
#   (a) raw COPY: `psql \copy` of the same messages, pre-converted to rows, into the same tables
#       with the same keys; one stream, then two in parallel;
#   (b) Inlet end to end: release `inlet serve` on the same fresh cluster, loaded flat out by wrk
#       (scripts/loadtest.sh), messages/s counted in PostgreSQL; then at half that rate, for p99;
#   (c) (b) / two-stream (a): the two alternate in rounds, each round a two-stream COPY and then
#       a flat-out run of Inlet, and (c) is the median of the rounds' ratios. This machine's
#       speed drifts by 10-25 % within minutes; a ratio of figures taken minutes apart measured
#       the drift as much as Inlet;
#   (d) CPU per message of Inlet's hot path (parse + validate + encode, one core), InletBench;
#   (e) peak RSS of inlet (VmHWM), and the same after an overload run;
#   (s) the shapes Segment really sends, each beside its ceiling: batch bodies at 16 connections,
#       single-message bodies at 64 (beside the HTTP stack alone answering GET /healthz at 64),
#       batch bodies at 16 with BENCH_RESEND % exact resends, and a Replay whose timestamps span
#       three years; committed rows/s, p50/p99/max and non-2xx each. Every run is also drawn
#       (.local/bench-charts/: committed msg/s and p99 per second, a panel per shape).
# Every phase is bounded in time; the cluster (.local/bench) is destroyed at the end.
#
# Knobs (environment): BENCH_DURATION (20 s, each flat-out run), BENCH_ROUNDS (3), BENCH_BATCH
# (100), BENCH_CONNECTIONS (128: flat out means enough requests in flight that neither the
# machine idles nor the writers' transactions stay small: 16 gave two thirds of the rate, 64
# left ~7 % of the machine idle), BENCH_COPY_PASSES (20: rows for COPY = 20 × the 20,000-message
# pool; a COPY of 5 × took ~1 s and varied from 74k to 103k rows/s in one run, 20 × takes ~4 s
# and varied by 5 %), BENCH_OVERLOAD (1: run the overload phase), BENCH_SHAPES (1: run the
# shapes of (s)), BENCH_SHAPE_ROUNDS (3), BENCH_RESEND (5: percent of exact resends in that
# shape), INLET_WRITERS etc.
# pass through to inlet.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

duration=${BENCH_DURATION:-20}
batch=${BENCH_BATCH:-100}
connections=${BENCH_CONNECTIONS:-128}
rounds=${BENCH_ROUNDS:-3}
copy_passes=${BENCH_COPY_PASSES:-20}
overload=${BENCH_OVERLOAD:-1}
shapes=${BENCH_SHAPES:-1}
shape_rounds=${BENCH_SHAPE_ROUNDS:-3}
resend=${BENCH_RESEND:-5}
charts=.local/bench-charts
run_stamp=$(date -u +%Y%m%dT%H%M%SZ)
pool=20000
seed=1
cluster=bench
state=.local/$cluster
work=.local/bench-data
hz=$(getconf CLK_TCK)

log() { echo "bench: $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

scripts/localpg.sh packages

log "release build (swift build -c release)"
swift build -c release
bin=$(swift build -c release --show-bin-path)

inlet_pid=""
cleanup() {
    if [ -n "$inlet_pid" ] && kill -0 "$inlet_pid" 2>/dev/null; then kill -TERM "$inlet_pid"; wait "$inlet_pid" || true; fi
    scripts/localpg.sh destroy "$cluster" || true
}
trap cleanup EXIT

# A fresh cluster, durable (fsync and synchronous_commit on, as in production), with room for
# the run's WAL so no checkpoint lands in the middle of one phase and not the other.
scripts/localpg.sh destroy "$cluster"
DATABASE_URL=$(PG_SERVER_OPTS="-c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=30min" \
    scripts/localpg.sh start "$cluster")
export DATABASE_URL
datadir=$(cat "$state/datadir")
"$bin/migrator" up >/dev/null
tenant_json=$("$bin/inlet" tenant create bench --json)
token=$(sed -E 's/.*"token":"([^"]+)".*/\1/' <<<"$tenant_json")
tenant_id=$(sed -E 's/.*"id":([0-9]+).*/\1/' <<<"$tenant_json")
psql_=(psql -X -q -tA -v ON_ERROR_STOP=1 "$DATABASE_URL")

# The same messages as bodies (for wrk and InletBench) and as rows (for COPY).
mkdir -p "$work"
stamp=$(date -u +%Y%m%d)
bodies="$work/bodies-b$batch-$stamp.jsonl"
singles="$work/singles-$stamp.jsonl"
rows="$work/rows-t$tenant_id-p$copy_passes-$stamp"
if [ ! -s "$bodies" ] || [ ! -f "$rows/done" ]; then
    rm -rf "$work"/rows-* "$work"/bodies-*
    log "generating $pool messages (bodies of $batch) and $((pool * copy_passes)) rows"
    python3 scripts/loadgen/loadgen.py --seed $seed --messages $pool --batch "$batch" --shape batch \
        --out-bodies "$bodies" --out-rows "$rows" --streams 2 --row-passes "$copy_passes" --tenant-id "$tenant_id"
    touch "$rows/done"
fi
[ -s "$singles" ] || python3 scripts/loadgen/loadgen.py --seed $seed --messages 2000 --shape single --out-bodies "$singles"
copy_rows=$((pool * copy_passes))
msg_bytes=$(awk '{ n += length($0) } END { printf "%.0f", n / '"$pool"' }' "$bodies")

# Every month the messages fall in, created before any phase (Inlet would create them on demand).
"${psql_[@]}" -c "SELECT inlet.ensure_month_partitions(m) FROM generate_series(date_trunc('month', now()) - interval '4 months', now(), interval '1 month') m" >/dev/null

tables="events.tracks, events.identifies, events.pages, events.screens, events.groups, events.aliases, events.users, events.accounts"
# Each phase starts from empty tables, a checkpoint, and no dirty page cache left to write back
# (a previous phase's WAL, a build): writeback competing with the commits' fsyncs made the same
# run vary by 2x.
reset_tables() { "${psql_[@]}" -c "TRUNCATE $tables" -c "CHECKPOINT" >/dev/null; sync; }

# CPU ticks used so far by PostgreSQL (the postmaster with its exited children, and its live
# children), by one process, and by the whole machine.
pg_ticks() {
    local master; master=$(head -n 1 "$datadir/postmaster.pid")
    { awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$master/stat"
      for p in $(pgrep -P "$master"); do awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || true; done
    } | awk '{ n += $1 } END { print n + 0 }'
}
pid_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

# (a) raw COPY -----------------------------------------------------------------------------------
copy_run() {  # streams...: each a psql session loading its files, all in parallel; prints seconds
    reset_tables
    local t0 t1 p0 pids=()
    p0=$(pg_ticks)
    t0=$(now)
    for s in "$@"; do
        "${psql_[@]}" $(for k in $s; do echo "-f $rows/s$k/copy.sql"; done) & pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    t1=$(now)
    local stored; stored=$("${psql_[@]}" -c "SELECT (SELECT count(*) FROM events.tracks)+(SELECT count(*) FROM events.identifies)+(SELECT count(*) FROM events.pages)+(SELECT count(*) FROM events.screens)+(SELECT count(*) FROM events.groups)+(SELECT count(*) FROM events.aliases)")
    [ "$stored" = "$copy_rows" ] || { log "COPY stored $stored rows, expected $copy_rows"; exit 1; }
    echo "$(elapsed "$t0" "$t1") $(( $(pg_ticks) - p0 ))"
}
# The first COPY into a fresh cluster ran 2-5x slower than any later one (a1 below a2 / 3), so
# one unmeasured pass warms the cluster up.
log "(a) warm-up COPY (not measured)"
copy_run "0" "1" >/dev/null
log "(a) raw COPY of $copy_rows rows, one stream, twice (the faster counts)"
out=$( { copy_run "0 1"; copy_run "0 1"; } | sort -n | head -n 1); read -r copy1_s copy1_ticks <<<"$out"
copy1_rate=$(awk -v n=$copy_rows -v s="$copy1_s" 'BEGIN { printf "%.0f", n / s }')

# (b) Inlet end to end, in rounds with (a2) -------------------------------------------------------
reset_tables
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
INLET_HOST=127.0.0.1 INLET_PORT=$port INLET_LOG_LEVEL=${INLET_LOG_LEVEL:-warning} "$bin/inlet" serve > "$state/inlet.log" 2>&1 &
inlet_pid=$!
for _ in $(seq 1 60); do curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && break; sleep 0.5; done
curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" || { log "inlet did not get ready"; tail "$state/inlet.log" >&2; exit 1; }

mkdir -p "$charts"
panels=()
loadtest() {  # NAME, then extra env for scripts/loadtest.sh; prints its LOADTEST line; its
              # per-second samples go to $charts/$run_stamp-NAME.csv for the run's chart
    local name=$1; shift
    env INLET_URL="http://127.0.0.1:$port" INLET_TOKEN="$token" SHAPE=batch BATCH="$batch" MESSAGES=$pool SEED=$seed \
        CHART="$charts/$run_stamp-$name.png" "$@" scripts/loadtest.sh > "$state/loadtest.out"
    cat "$state/loadtest.out" >&2
    grep '^LOADTEST ' "$state/loadtest.out"
}
field() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$2"; }
# Messages answered per second (stored + already stored): with resends, the work done.
answered_rate() { awk -v c="$(field committed "$1")" -v d="$(field duplicates "$1")" -v s="$(field duration_s "$1")" 'BEGIN { printf "%.0f", (c + d) / s }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Per round: the two-stream COPY, then Inlet flat out. CPU ticks add up over the rounds.
copy2_rates=(); copy2_ticks=0; max_rates=(); max_lines=(); ratios=()
inlet_ticks=0; inlet_pg_ticks=0; inlet_machine_ticks=0; inlet_wall=0; committed=0
for round in $(seq 1 "$rounds"); do
    log "(a) round $round/$rounds: raw COPY of $copy_rows rows, two streams"
    read -r s t <<<"$(copy_run "0" "1")"
    copy2_rates+=("$(awk -v n=$copy_rows -v s="$s" 'BEGIN { printf "%.0f", n / s }')")
    copy2_ticks=$((copy2_ticks + t))
    reset_tables
    log "(b) round $round/$rounds: Inlet flat out, $connections connections, bodies of $batch, ${duration}s"
    i0=$(pid_ticks "$inlet_pid"); p0=$(pg_ticks); m0=$(machine_ticks); w0=$(now)
    line=$(loadtest "flat-$round" CONNECTIONS="$connections" DURATION="$duration")
    i1=$(pid_ticks "$inlet_pid"); p1=$(pg_ticks); m1=$(machine_ticks); w1=$(now)
    inlet_ticks=$((inlet_ticks + i1 - i0)); inlet_pg_ticks=$((inlet_pg_ticks + p1 - p0))
    inlet_machine_ticks=$((inlet_machine_ticks + m1 - m0))
    inlet_wall=$(awk -v a="$inlet_wall" -v b="$(elapsed "$w0" "$w1")" 'BEGIN { print a + b }')
    committed=$((committed + $(field committed "$line")))
    max_rates+=("$(field rate "$line")"); max_lines+=("$line")
    ratios+=("$(awk -v b="$(field rate "$line")" -v a="${copy2_rates[-1]}" 'BEGIN { printf "%.3f", b / a }')")
    log "round $round: a2 ${copy2_rates[-1]} msg/s, b $(field rate "$line") msg/s, ratio ${ratios[-1]}"
done
copy2_rate=$(printf '%s\n' "${copy2_rates[@]}" | median)
copy2_cpu_us=$(awk -v t="$copy2_ticks" -v hz="$hz" -v n=$((copy_rows * rounds)) 'BEGIN { printf "%.0f", t / hz * 1e6 / n }')
max_rate=$(printf '%s\n' "${max_rates[@]}" | median); max_rate=${max_rate%.*}
# The latencies reported are those of the round with the median rate.
for k in "${!max_rates[@]}"; do [ "${max_rates[$k]}" = "$max_rate" ] && max_line=${max_lines[$k]}; done
max_line=${max_line:-${max_lines[0]}}
for k in "${!max_rates[@]}"; do
    [ "${max_rates[$k]}" = "$max_rate" ] && panels+=("flat out, $connections connections, bodies of $batch (median round)=$charts/$run_stamp-flat-$((k + 1)).csv@$copy2_rate") && break
done
ratio=$(printf '%s\n' "${ratios[@]}" | median)
# The CPU the loadtest's own row counts cost PostgreSQL is included, so these are upper bounds.
inlet_cpu_us=$(awk -v t=$inlet_ticks -v hz="$hz" -v n="$committed" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
pg_cpu_us=$(awk -v t=$inlet_pg_ticks -v hz="$hz" -v n="$committed" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
all_cpu_us=$(awk -v t=$inlet_machine_ticks -v hz="$hz" -v n="$committed" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
other_cpu_us=$(awk -v a="$all_cpu_us" -v i="$inlet_cpu_us" -v p="$pg_cpu_us" 'BEGIN { printf "%.1f", a - i - p }')
busy=$(awk -v t=$inlet_machine_ticks -v hz="$hz" -v c="$(nproc)" -v d="$inlet_wall" 'BEGIN { printf "%.0f", 100 * t / hz / c / d }')
rss_max_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$inlet_pid/status")

half=$((max_rate / 2))
reset_tables
log "(b) Inlet at half that rate: $half messages/s"
half_line=$(loadtest half CONNECTIONS="$connections" DURATION=15 RATE="$half")
panels+=("half rate, $half msg/s offered=$charts/$run_stamp-half.csv@$copy2_rate")

if [ "$shapes" = 1 ]; then
    # The HTTP stack alone, answering a route that touches nothing: the ceiling of one message
    # per request (less PostgreSQL's share of the machine).
    log "(s) GET /healthz at 64 connections, 10 s (the HTTP stack's ceiling)"
    healthz_rate=$(wrk -t2 -c64 -d10s "http://127.0.0.1:$port/healthz" | awk '/^Requests\/sec:/ { printf "%.0f", $2 }')
    # Ingest requests answered so far, and those of them slower than 250 ms, as Inlet's own
    # histogram counts them (wrk's percentiles are corrected for coordinated omission: a stall
    # of 1 s at 25 ms a request counts as 40 slow samples, not 1).
    slow_counts() {
        curl -fsS "http://127.0.0.1:$port/metrics" | awk '
            /^inlet_http_request_duration_seconds_bucket/ && !/route="\/(readyz|healthz|metrics)"/ {
                if ($0 ~ /le="0.25"/) fast += $2; if ($0 ~ /le="\+Inf"/) all += $2 }
            END { print all + 0, all - fast }'
    }
    shape_run() {  # NAME LABEL, then loadtest env; prints the LOADTEST line. CPU per message
                   # answered (inlet, PostgreSQL, the rest of the machine) and the slow requests
                   # go to $state/shape-NAME.cpu and .slow (it runs in a subshell)
        local name=$1 label=$2; shift 2
        reset_tables
        log "(s) $label, ${duration}s"
        local i0 p0 m0 n0 s0 line
        read -r n0 s0 <<<"$(slow_counts)"
        i0=$(pid_ticks "$inlet_pid"); p0=$(pg_ticks); m0=$(machine_ticks)
        line=$(loadtest "$name" DURATION="$duration" "$@")
        local i=$(( $(pid_ticks "$inlet_pid") - i0 )) p=$(( $(pg_ticks) - p0 )) m=$(( $(machine_ticks) - m0 ))
        local n=$(( $(field committed "$line") + $(field duplicates "$line") )) n1 s1
        read -r n1 s1 <<<"$(slow_counts)"
        awk -v i=$i -v p=$p -v m=$m -v hz="$hz" -v n="$n" \
            'BEGIN { f = 1e6 / hz / n; printf "inlet %.1f, PostgreSQL %.1f, rest %.1f µs/message", i * f, p * f, (m - i - p) * f }' \
            > "$state/shape-$name.cpu"
        echo "$((s1 - s0)) of $((n1 - n0)) requests over 250 ms in Inlet's own histogram" > "$state/shape-$name.slow"
        echo "$line"
    }
    batch16_label="batch bodies of $batch, 16 connections"
    single64_label="single messages, 64 connections"
    resend16_label="bodies of $batch, 16 connections, $resend % exact resends"
    replay16_label="a Replay over 3 years, bodies of $batch, 16 connections"
    # In rounds, the four shapes one after the other in each: s3 and s4 are compared with the
    # s1 of their own round (the machine drifts within minutes; single runs of s1 gave 59k and
    # 71k msg/s in two benches ten minutes apart). Each Replay starts cold: the months it
    # created in the round before are dropped first, so that it creates them on demand again.
    b16_lines=(); s64_lines=(); r16_lines=(); p16_lines=(); s3_ratios=(); s4_ratios=()
    for round in $(seq 1 "$shape_rounds"); do
        log "(s) round $round/$shape_rounds"
        b16_lines+=("$(shape_run "batch16-$round" "$batch16_label" CONNECTIONS=16 CEILING="$copy2_rate")")
        s64_lines+=("$(shape_run "single64-$round" "$single64_label" CONNECTIONS=64 SHAPE=single CEILING="$healthz_rate")")
        r16_lines+=("$(shape_run "resend16-$round" "$resend16_label" CONNECTIONS=16 RESEND="$resend" CEILING="$copy2_rate")")
        "$bin/inlet" partitions prune --older-than 160d >/dev/null
        p16_lines+=("$(shape_run "replay16-$round" "$replay16_label" CONNECTIONS=16 MONTHS_BACK=36 CEILING="$copy2_rate")")
        s3_ratios+=("$(awk -v a="$(answered_rate "${r16_lines[-1]}")" -v b="$(answered_rate "${b16_lines[-1]}")" 'BEGIN { printf "%.2f", a / b }')")
        s4_ratios+=("$(awk -v a="$(field rate "${p16_lines[-1]}")" -v b="$(field rate "${b16_lines[-1]}")" 'BEGIN { printf "%.2f", a / b }')")
    done
    # Per shape, the round with the median rate: its latencies, notes and chart panel.
    median_round() {  # LINES...: prints the 1-based round whose rate is the median
        local rates=() k median
        for k in "$@"; do rates+=("$(field rate "$k")"); done
        median=$(printf '%s\n' "${rates[@]}" | median)
        for k in "${!rates[@]}"; do [ "${rates[$k]}" = "$median" ] && { echo $((k + 1)); return; }; done
        echo 1
    }
    b16_round=$(median_round "${b16_lines[@]}"); s64_round=$(median_round "${s64_lines[@]}")
    r16_round=$(median_round "${r16_lines[@]}"); p16_round=$(median_round "${p16_lines[@]}")
    batch16_line=${b16_lines[$((b16_round - 1))]}; single64_line=${s64_lines[$((s64_round - 1))]}
    resend16_line=${r16_lines[$((r16_round - 1))]}; replay16_line=${p16_lines[$((p16_round - 1))]}
    panels+=("$batch16_label (median round)=$charts/$run_stamp-batch16-$b16_round.csv@$copy2_rate"
        "$single64_label (median round)=$charts/$run_stamp-single64-$s64_round.csv@$healthz_rate"
        "$resend16_label (median round)=$charts/$run_stamp-resend16-$r16_round.csv@$copy2_rate"
        "$replay16_label (median round)=$charts/$run_stamp-replay16-$p16_round.csv@$copy2_rate")
fi

if [ "$overload" = 1 ]; then
    # More messages in flight than the queue holds (INLET_QUEUE_MAX_MESSAGES, 100,000 by
    # default): 256 connections × bodies of 500; the excess must get 503/429, RSS stay bounded.
    reset_tables
    log "(e) overload: 256 connections, bodies of 500, 15 s"
    over_line=$(batch=500 loadtest overload CONNECTIONS=256 DURATION=15)
    kill -0 "$inlet_pid" || { log "inlet died under overload"; exit 1; }
fi
rss_peak_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$inlet_pid/status")
kill -TERM "$inlet_pid"; wait "$inlet_pid" || true; inlet_pid=""

# (d) the hot path on one core ----------------------------------------------------------------------
log "(d) InletBench: MessageParser.parse, release, one core"
bench_batch=$("$bin/InletBench" "$bodies" 3 | grep '^RESULT')
bench_single=$("$bin/InletBench" "$singles" 3 | grep '^RESULT')

# The shapes' rows and the chart ------------------------------------------------------------------
ratio_of() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
latencies() { echo "p50 $(field p50_ms "$1") ms, p99 $(field p99_ms "$1") ms, max $(field max_ms "$1") ms; non-2xx $(field non2xx "$1")"; }
shape_notes() { echo "; $(cat "$state/shape-$1.slow"); CPU $(cat "$state/shape-$1.cpu") (median round)"; }
shape_rows=""
if [ "$shapes" = 1 ]; then
    b16=$(field rate "$batch16_line"); s64=$(field rate "$single64_line"); r16=$(field rate "$replay16_line")
    shape_rows="| s1 | $batch16_label | $b16 msg/s = $(ratio_of "$b16" "$copy2_rate") of a2 (rounds: $(for l in "${b16_lines[@]}"; do printf '%s ' "$(field rate "$l")"; done | sed 's/ $//')); $(latencies "$batch16_line")$(shape_notes "batch16-$b16_round") | ≥ 0.85 of a2, p99 ≤ 150 ms |
| s2 | $single64_label | $s64 msg/s (the HTTP stack alone, GET /healthz: $healthz_rate requests/s; rounds: $(for l in "${s64_lines[@]}"; do printf '%s ' "$(field rate "$l")"; done | sed 's/ $//')); $(latencies "$single64_line")$(shape_notes "single64-$s64_round") | ≥ 10,000 msg/s, p99 ≤ 50 ms |
| s3 | $resend16_label | $(answered_rate "$resend16_line") msg/s answered ($(field rate "$resend16_line") stored, $(field duplicates "$resend16_line") duplicates in all) = $(printf '%s\n' "${s3_ratios[@]}" | median) of its round's s1 (rounds: ${s3_ratios[*]}); $(latencies "$resend16_line")$(shape_notes "resend16-$r16_round") | ≥ 0.95 of s1 |
| s4 | $replay16_label | $r16 msg/s = $(printf '%s\n' "${s4_ratios[@]}" | median) of its round's s1 (rounds: ${s4_ratios[*]}); $(latencies "$replay16_line")$(shape_notes "replay16-$p16_round") | ≥ 0.9 of s1, p99 ≤ 200 ms |
"
fi
chart="$charts/bench-$run_stamp.png"
tools=$(scripts/python-tools.sh bin chart-tools scripts/loadgen/requirements.txt)
"$tools/python" scripts/loadgen/chart.py "$chart" \
    "make bench, $run_stamp, $(nproc) vCPU: committed messages/s and ingest p99 per second; dashed: the ceiling (a2's raw COPY; for single messages the HTTP stack alone)" \
    "${panels[@]}"
log "chart: $chart"

# The table -----------------------------------------------------------------------------------------
pg_version=$("${psql_[@]}" -c "SHOW server_version" | cut -d' ' -f1)
over_text="not run"
[ "$overload" = 1 ] && over_text="$(field rate "$over_line") msg/s committed, statuses $(field statuses "$over_line"), p99 $(field p99_ms "$over_line") ms"
cat <<TXT

Inlet bench, $(date -u +%Y-%m-%d), $(nproc) vCPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), PostgreSQL $pg_version
(PostgreSQL, inlet and wrk share the machine; $pool-message pool, ~$msg_bytes bytes/message, {"batch": [...]} bodies of $batch)

| | measure | result | target |
|---|---|---|---|
| a1 | raw \`\\copy\`, 1 stream ($copy_rows rows) | $copy1_rate msg/s | |
| a2 | raw \`\\copy\`, 2 streams in parallel, median of $rounds rounds | $copy2_rate msg/s (rounds: ${copy2_rates[*]}; PostgreSQL CPU ${copy2_cpu_us} µs/row) | |
| b  | Inlet end to end, flat out ($connections conns, ${duration}s), median of $rounds rounds | $max_rate msg/s committed (rounds: ${max_rates[*]}); p50 $(field p50_ms "$max_line") ms, p99 $(field p99_ms "$max_line") ms; non-2xx $(field non2xx "$max_line") | |
| b  | CPU per committed message | inlet ${inlet_cpu_us} µs, PostgreSQL ${pg_cpu_us} µs, rest (wrk, psql, other tenants of the machine) ${other_cpu_us} µs; machine ${busy} % busy | |
| b½ | Inlet at half rate ($half msg/s offered) | $(field rate "$half_line") msg/s; p50 $(field p50_ms "$half_line") ms, p99 $(field p99_ms "$half_line") ms; non-2xx $(field non2xx "$half_line") | p99 ≤ 100 ms |
| c  | b / a2, median of the rounds' ratios | $ratio (rounds: ${ratios[*]}) | ≥ 0.75 |
| d  | parse + validate + encode, batch bodies | $(field us_per_msg "$bench_batch") µs/message ($(field us_per_kb "$bench_batch") µs/KB, $(field mb_per_s "$bench_batch") MB/s) | ≤ 10 µs |
| d  | same, single-message bodies | $(field us_per_msg "$bench_single") µs/message | |
$shape_rows| e  | inlet peak RSS (VmHWM) after b, b½ | $((rss_max_kb / 1024)) MB | |
| e  | overload (256 conns × 500 msgs) | $over_text; peak RSS $((rss_peak_kb / 1024)) MB | ≤ queue bound + 100 MB |

Chart: $chart
TXT
