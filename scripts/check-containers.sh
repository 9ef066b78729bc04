#!/usr/bin/env bash
# The Dockerfile and docker-compose.yml follow their rules, checked without a Docker engine (in
# `make test`): the build image's Swift is the local toolchain's (`swift --version`) and not older
# than Package.swift's tools version; a build stage and a slim runtime stage that copies `inlet`
# and `migrator` from it; a non-root numeric USER; HEALTHCHECK `inlet healthcheck` in exec form,
# which Sources/App must have; every COPY source in the build context; and, from
# `docker-compose config`'s normalised output, postgres (pg_isready) → `migrator up` (completed
# successfully) → inlet (`inlet healthcheck`), every configuration variable documented.
# Installs Debian's docker-compose (v1, parses without an engine; brings python3-yaml) when
# missing, as root or through sudo. Bounded: apt-get 10 min at most, each check seconds.
# The rules themselves: scripts/checks/containers.py.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# docker-compose runs on Debian's python3, which has yaml through it; the rules use the same one.
python=/usr/bin/python3
if ! command -v docker-compose >/dev/null || ! "$python" -c 'import yaml' 2>/dev/null; then
    echo "check-containers: installing docker-compose and python3-yaml (apt-get)"
    as_root timeout 600 apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive timeout 600 \
        apt-get install -y -qq --no-install-recommends docker-compose python3-yaml >/dev/null
fi

if ! swift_version=$(timeout 60 swift --version 2>&1); then
    echo "check-containers: FAIL: \`swift --version\` failed; the Dockerfile's Swift must match this toolchain: $swift_version" >&2
    exit 1
fi

config=$(mktemp)
no_env=$(mktemp)
trap 'rm -f "$config" "$no_env" "$config.err"' EXIT
# No engine is needed to parse; an .env file or the caller's variables would change the result,
# so the check reads the file alone (an empty --env-file, a clean environment).
if ! timeout 60 env -i PATH="$PATH" HOME="${HOME:-/root}" \
        docker-compose --env-file "$no_env" --project-directory "$root" -f "$root/docker-compose.yml" \
        config >"$config" 2>"$config.err"; then
    echo "check-containers: FAIL: docker-compose config refuses docker-compose.yml:" >&2
    cat "$config.err" >&2
    exit 1
fi

timeout 120 "$python" scripts/checks/containers.py "$root" "$swift_version" "$config"
