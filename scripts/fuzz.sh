#!/usr/bin/env bash
# make fuzz: builds InletFuzz with libFuzzer + AddressSanitizer and fuzzes MessageParser for
# FUZZ_SECONDS (default 600), seeded with the bad-input corpus (Tests/corpus/**/*.body).
#
# Everything it writes is under .local/fuzz/ (git-ignored):
#   corpus/      inputs libFuzzer found interesting (kept between runs, so runs build on each other)
#   seed/        symlinks to Tests/corpus/**/*.body, rebuilt every run
#   artifacts/   crash-*, timeout-*, oom-* reproducers
#   fuzz.log     libFuzzer's output
# Exits non-zero when libFuzzer finds a crash, a broken invariant, a timeout or an OOM.
# Replay a finding: swift build --product InletFuzz && .build/debug/InletFuzz .local/fuzz/artifacts/crash-...
# Knobs: FUZZ_SECONDS, FUZZ_ARGS (more libFuzzer flags).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-600}
out=.local/fuzz
mkdir -p "$out/corpus" "$out/artifacts"
rm -rf "$out/seed" && mkdir -p "$out/seed"
while IFS= read -r -d '' body; do
    name=${body#Tests/corpus/}
    ln -s "$PWD/$body" "$out/seed/${name//\//__}"
done < <(find Tests/corpus -name '*.body' -print0)

echo "fuzz: building InletFuzz (release, -sanitize=fuzzer,address) in .build-fuzz"
start=$(date +%s)
if ! swift build -c release --product InletFuzz --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DINLET_FUZZ >"$out/build.log" 2>&1; then
    grep -Ev '^\[[0-9]+/[0-9]+\]' "$out/build.log" | tail -40 >&2
    echo "fuzz: build failed (log: $out/build.log)" >&2
    exit 2
fi
binary=.build-fuzz/release/InletFuzz
echo "fuzz: built in $(( $(date +%s) - start ))s; fuzzing for ${seconds}s (log: $out/fuzz.log)"

set +e
# detect_leaks=0: the parser's buffers live in Swift arrays; LeakSanitizer reports on Swift
# runtime metadata caches are noise, not findings.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "$binary" \
    -max_total_time="$seconds" -max_len=65536 -timeout=5 -rss_limit_mb=2048 \
    -dict=Sources/InletFuzz/inlet.dict -artifact_prefix="$out/artifacts/" -print_final_stats=1 \
    ${FUZZ_ARGS:-} "$out/corpus" "$out/seed" >"$out/fuzz.log" 2>&1
status=$?
set -e
grep -E '^#[0-9]+ +(INITED|DONE)|stat::number_of_executed_units|stat::peak_rss|cov: ' "$out/fuzz.log" | grep -E 'INITED|DONE|stat::' || true
if [[ $status -ne 0 ]]; then
    echo "fuzz: FAILED (libFuzzer exit $status); the end of $out/fuzz.log:" >&2
    tail -40 "$out/fuzz.log" >&2
    ls -1 "$out/artifacts" >&2
    exit 1
fi
echo "fuzz: clean for ${seconds}s; $(find "$out/corpus" -type f | wc -l) inputs in $out/corpus"
