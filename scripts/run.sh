#!/usr/bin/env bash
# `make run`: a local Inlet with everything it needs.
#   1. DATABASE_URL, or a local PostgreSQL cluster (scripts/localpg.sh) when it is unset;
#   2. build, `migrator up`;
#   3. a demo tenant, created once (its token is kept in .local/demo-token);
#   4. `inlet serve`, after printing a curl line that works.
set -euo pipefail
cd "$(dirname "$0")/.."
configuration=${CONFIGURATION:-release}

scripts/localpg.sh packages
if [ -z "${DATABASE_URL:-}" ]; then
    DATABASE_URL=$(scripts/localpg.sh start run)
    export DATABASE_URL
fi

swift build -c "$configuration" --product migrator
swift build -c "$configuration" --product inlet
bin=$(swift build -c "$configuration" --show-bin-path)

"$bin/migrator" up

# Reuse the demo token while this database still knows it.
token_file=.local/demo-token
token=$(cat "$token_file" 2>/dev/null || true)
known=""
if [ -n "$token" ]; then
    known=$(psql -X -q -tA "$DATABASE_URL" -v token="$token" \
        -c "SELECT 1 FROM inlet.tenant_tokens WHERE token_sha256 = sha256(convert_to(:'token', 'UTF8'))")
fi
if [ "$known" != "1" ]; then
    mkdir -p .local
    token=$("$bin/inlet" tenant create demo --json | sed -E 's/.*"token":"([^"]+)".*/\1/')
    (umask 077 && echo "$token" > "$token_file")
fi

port=${INLET_PORT:-8080}
cat <<TXT

Inlet is starting on http://127.0.0.1:$port (database: local; Ctrl-C stops the server).
Demo tenant token: $token

  curl -i http://127.0.0.1:$port/readyz
  curl -i -u '$token:' -H 'Content-Type: application/json' \\
       -d '{"type":"track","event":"Signed Up","userId":"user-1","properties":{"plan":"pro"}}' \\
       http://127.0.0.1:$port/v1/track

TXT
exec "$bin/inlet" serve --port "$port"
