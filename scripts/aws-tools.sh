#!/usr/bin/env bash
# The AWS tools at the versions pinned in deploy/aws/requirements.txt (cfn-lint, the AWS CLI,
# moto's server), in a virtualenv under .local/aws-tools (git-ignored), so that a machine's own
# pip packages neither leak into nor get changed by `make cfn-validate`, `make deploy` or the
# emulator test.
#
#   scripts/aws-tools.sh install    create or refresh the virtualenv when the pins changed; print its bin/
#   scripts/aws-tools.sh bin        print its bin/ (installing first when needed)
#
# The virtualenv is rebuilt when requirements.txt differs from the copy kept inside it, so
# changing a pin is enough. PYTHON picks the interpreter (default python3: 3.11 with pyenv in CI).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.local/aws-tools"
requirements="$root/deploy/aws/requirements.txt"

log() { echo "aws-tools: $*" >&2; }

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
        echo "usage: aws-tools.sh install|bin" >&2
        exit 2
        ;;
esac
