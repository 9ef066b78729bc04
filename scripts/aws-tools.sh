#!/usr/bin/env bash
# The AWS tools at the versions pinned in deploy/aws/requirements.txt (cfn-lint, the AWS CLI,
# moto's server), in the virtualenv .local/aws-tools (scripts/python-tools.sh).
#
#   scripts/aws-tools.sh install|bin    print the virtualenv's bin/, installing it first when needed
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exec "$root/scripts/python-tools.sh" "${1:-bin}" aws-tools "$root/deploy/aws/requirements.txt"
