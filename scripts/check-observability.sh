#!/usr/bin/env bash
# deploy/'s Prometheus alert rules and Grafana dashboard are sound (in `make test`):
#   promtool check rules, promtool test rules (deploy/prometheus/inlet-alerts.test.yml: each alert
#   fires on a series that should fire it and stays silent on a healthy one), then
#   scripts/checks/observability.py: every alert has for:, severity, summary and description and
#   is tested both ways; the dashboard parses, has a Prometheus datasource variable its panels
#   use; every inlet_* metric the rules and the dashboard name is defined in Sources/.
# promtool: the one on PATH, else Debian's (the `prometheus` package's), taken out of the .deb
# into .local/tools/ rather than installed: installing the package would also start and enable a
# Prometheus server on a machine with systemd. python3-yaml from apt when missing. As root or
# through sudo; bounded (apt-get 10 min at most, each check seconds); idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
apt_updated=""
apt_update() {
    if [ -z "$apt_updated" ]; then
        as_root timeout 600 apt-get update -qq
        apt_updated=1
    fi
}

python=/usr/bin/python3
if ! "$python" -c 'import yaml' 2>/dev/null; then
    echo "check-observability: installing python3-yaml (apt-get)"
    apt_update
    as_root env DEBIAN_FRONTEND=noninteractive timeout 600 \
        apt-get install -y -qq --no-install-recommends python3-yaml >/dev/null
fi

promtool=$(command -v promtool || true)
if [ -z "$promtool" ]; then
    promtool=$PWD/.local/tools/promtool
    if [ ! -x "$promtool" ]; then
        echo "check-observability: fetching promtool from Debian's prometheus package (apt-get download)"
        apt_update
        work=$(mktemp -d)
        trap 'rm -rf "$work"' EXIT
        (cd "$work" && timeout 600 apt-get download -qq prometheus)
        dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
        mkdir -p .local/tools
        install -m 755 "$work/root/usr/bin/promtool" "$promtool.tmp"
        mv "$promtool.tmp" "$promtool"
    fi
fi
echo "check-observability: $("$promtool" --version 2>&1 | head -1)"

# Every step runs, so that one run reports every broken rule.
failed=()
(cd deploy/prometheus && timeout 60 "$promtool" check rules inlet-alerts.yml) || failed+=("promtool check rules deploy/prometheus/inlet-alerts.yml")
(cd deploy/prometheus && timeout 120 "$promtool" test rules inlet-alerts.test.yml) || failed+=("promtool test rules deploy/prometheus/inlet-alerts.test.yml")
timeout 60 "$python" scripts/checks/observability.py "$PWD" || failed+=("scripts/checks/observability.py")
if [ ${#failed[@]} -gt 0 ]; then
    printf 'check-observability: FAILED: %s (above)\n' "${failed[@]}" >&2
    exit 1
fi
