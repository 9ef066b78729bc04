#!/usr/bin/env bash
# `make cfn-validate`: cfn-lint, at the version pinned in deploy/aws/requirements.txt, over every
# CloudFormation template in deploy/aws/, informational rules included (--include-checks I: they
# asked for explicit deletion policies on the secrets). Any finding fails; no rule is ignored.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(scripts/aws-tools.sh bin)
templates=(deploy/aws/*.yaml)
"$bin/cfn-lint" --version
"$bin/cfn-lint" --include-checks I -- "${templates[@]}"
echo "cfn-validate: ${#templates[@]} templates clean (${templates[*]})"
