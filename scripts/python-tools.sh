#!/usr/bin/env bash
# Python tools at pinned versions, each set in its own virtualenv under .local/NAME
# (git-ignored), so that a machine's own pip packages neither leak into nor get changed by them:
# the AWS tools of deploy/aws/requirements.txt (cfn-lint, the AWS CLI, moto's server; through
# scripts/aws-tools.sh) and the chart tools of scripts/loadgen/requirements.txt (matplotlib).
#
#   scripts/python-tools.sh install NAME REQUIREMENTS   create or refresh .local/NAME when the pins changed; print its bin/
#   scripts/python-tools.sh bin NAME REQUIREMENTS       print its bin/ (installing first when needed)
#
# The virtualenv is rebuilt when requirements.txt differs from the copy kept inside it, so
# changing a pin is enough. PYTHON picks the interpreter (default python3: 3.11 with pyenv in CI).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

[ $# -eq 3 ] || { echo "usage: python-tools.sh install|bin NAME REQUIREMENTS" >&2; exit 2; }
name=$2
venv="$root/.local/$name"
requirements="$3"

log() { echo "$name: $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install() {
    if [ -x "$venv/bin/python" ] && cmp -s "$requirements" "$venv/requirements.txt"; then
        return
    fi
    log "installing $(grep -E '^[a-z]' "$requirements" | tr '\n' ' ')into $venv (once; a few minutes)"
    local python=${PYTHON:-python3}
    # Debian's own python3 has no venv module until python3-venv is installed (pyenv's has it).
    if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
        log "installing python3-venv"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
    fi
    rm -rf "$venv"
    mkdir -p "$root/.local"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
    cp "$requirements" "$venv/requirements.txt"
}

case "${1:-bin}" in
    install | bin)
        install
        echo "$venv/bin"
        ;;
    *)
        echo "usage: python-tools.sh install|bin NAME REQUIREMENTS" >&2
        exit 2
        ;;
esac
