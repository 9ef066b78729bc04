#!/usr/bin/env bash
# `make test-deploy`: scripts/deploy.sh end to end against moto's AWS emulator (moto_server, pinned
# in deploy/aws/requirements.txt), on a free loopback port, with fake credentials. About a minute
# once the tools are installed; every process it starts is stopped by pid when it exits.
#
#   1. the decisions of scripts/deploy-aws.py on canned ECS answers moto cannot give (a migrator
#      that exited 1, one that never started);
#   2. a first deploy: every stack created, the migrator run and awaited, then the service;
#   3. a second deploy of a new IMAGE, without CERTIFICATE_ARN: the stacks are updated in place
#      (same stack ids, same service), the migrator runs again for the new image first;
#   4. a third deploy whose migrator cannot be placed (hosts drained): it fails and the service
#      stack is left on the second image.
#
# What moto emulates and what it does not is in deploy/aws/README.md ("What the emulator test
# covers"). In short: the templates' supported resources are really created and checked below;
# capacity providers, scaling policies, alarms and Secrets Manager secrets are skipped by moto's
# CloudFormation; no container runs, so moto's tasks always report exit code 0.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

bin=$(scripts/aws-tools.sh bin)
export PATH="$bin:$PATH"
python="$bin/python"
tmp=$(mktemp -d)
moto_pid="" agent_pid=""
cleanup() {
    for pid in $agent_pid $moto_pid; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

log() { echo "test-deploy: $*" >&2; }
fail() {
    log "FAIL: $*"
    if [ -s "$tmp/moto.log" ]; then
        log "moto_server's last errors:"
        grep -v '" 200 -$' "$tmp/moto.log" | tail -n 30 >&2
    fi
    exit 1
}
# expect WHAT ACTUAL EXPECTED
expect() {
    if [ "$2" != "$3" ]; then fail "$1: got '$2', expected '$3'"; fi
    log "ok: $1 ($2)"
}

# --- 1. deploy-aws.py's decisions on ECS answers moto cannot produce -----------------------------

result_of() { # JSON -> the exit status of `deploy-aws.py result`
    local status=0
    echo "$1" | "$python" scripts/deploy-aws.py result - migrator >/dev/null 2>&1 || status=$?
    echo "$status"
}
expect "migrator exited 0" "$(result_of '{"tasks":[{"lastStatus":"STOPPED","containers":[{"name":"migrator","exitCode":0}]}]}')" 0
expect "migrator exited 1 fails the deploy" "$(result_of '{"tasks":[{"lastStatus":"STOPPED","stopCode":"EssentialContainerExited","containers":[{"name":"migrator","exitCode":1}]}]}')" 1
expect "migrator that never started (no exit code) fails the deploy" "$(result_of '{"tasks":[{"lastStatus":"STOPPED","stopCode":"TaskFailedToStart","stoppedReason":"CannotPullContainerError: pull image manifest has been retried 5 time(s)","containers":[{"name":"migrator","lastStatus":"STOPPED"}]}]}')" 1
expect "migrator still running is not a result" "$(result_of '{"tasks":[{"lastStatus":"RUNNING","containers":[{"name":"migrator"}]}]}')" 3
expect "run-task that placed nothing fails" "$(echo '{"tasks":[],"failures":[{"arn":"arn:aws:ecs:x:1:container-instance/a","reason":"RESOURCE:MEMORY"}]}' |
    "$python" scripts/deploy-aws.py started - >/dev/null 2>&1 && echo 0 || echo 1)" 1
expect "a misspelt knob fails" "$(echo null | "$python" scripts/deploy-aws.py parameters deploy/aws/service.yaml - MinTask=3 >/dev/null 2>&1 && echo 0 || echo 1)" 1

# The timeouts Inlet's drain depends on, as the templates set them: the load balancer closes idle
# connections before Inlet does; the deregistration delay and the stop timeout outlast the drain;
# and which health check reads readiness and which liveness.
"$python" - <<'PY' || fail "the templates' timeouts do not fit Inlet's"
import yaml

class Loader(yaml.SafeLoader):
    pass

Loader.add_multi_constructor("!", lambda loader, suffix, node: None)

def load(name):
    with open(f"deploy/aws/{name}.yaml", encoding="utf-8") as f:
        return yaml.load(f, Loader=Loader)

platform, service = load("platform"), load("service")
attributes = {a["Key"]: a["Value"] for a in platform["Resources"]["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]}
container = service["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
environment = {e["Name"]: e["Value"] for e in container["Environment"] if isinstance(e, dict) and "Name" in e}
idle = int(attributes["idle_timeout.timeout_seconds"])
inlet_idle = int(environment["INLET_IDLE_TIMEOUT_MS"]) / 1000
drain = int(environment["INLET_SHUTDOWN_TIMEOUT_MS"]) / 1000
deregistration = platform["Parameters"]["DeregistrationDelaySeconds"]["Default"]
stop = service["Parameters"]["StopTimeoutSeconds"]["Default"]
health = platform["Resources"]["TargetGroup"]["Properties"]["HealthCheckPath"]
assert idle < inlet_idle, (idle, inlet_idle)
assert deregistration > drain and stop > drain, (deregistration, stop, drain)
assert health == "/readyz", health
# ECS replaces a task whose container check fails: liveness there, readiness at the target group.
assert container["HealthCheck"]["Command"] == ["CMD", "inlet", "healthcheck", "--live"], container["HealthCheck"]
print(f"test-deploy: ok: idle timeout {idle} s < Inlet's {inlet_idle:g} s; deregistration {deregistration} s "
      f"and stop timeout {stop} s > drain {drain:g} s; target group on {health}, container check --live")
PY

# --- the emulator ------------------------------------------------------------------------------

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# moto runs no service tasks; MOTO_ECS_SERVICE_RUNNING is the running count its services report
# (MinTasks), which is all `aws ecs wait services-stable` can see there.
# scripts/test-deploy-moto.py: moto_server with two CloudFormation bugs of moto fixed (its doc).
MOTO_ECS_SERVICE_RUNNING=2 "$python" scripts/test-deploy-moto.py -H 127.0.0.1 -p "$port" >"$tmp/moto.log" 2>&1 &
moto_pid=$!
endpoint="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
    if "$python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/moto-api/")' "$endpoint" 2>/dev/null; then
        break
    fi
    kill -0 "$moto_pid" 2>/dev/null || fail "moto_server exited: $(cat "$tmp/moto.log")"
    sleep 0.2
done
log "moto_server $("$python" -c 'import moto; print(moto.__version__)') on $endpoint (pid $moto_pid)"

# A one-off task goes RUNNING -> DEACTIVATING -> STOPPING -> DEPROVISIONING -> STOPPED, one step
# per describe-tasks, so `aws ecs wait tasks-stopped` polls several times (6 s apart) as on AWS,
# instead of finding the task stopped the moment it started.
"$python" - "$endpoint" <<'PY'
import json, sys, urllib.request
body = json.dumps({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1}})
urllib.request.urlopen(urllib.request.Request(
    sys.argv[1] + "/moto-api/state-manager/set-transition", data=body.encode(), method="POST"))
PY

# Fake credentials, and nothing from this machine's AWS configuration or deploy knobs.
unset VPC_ID PUBLIC_SUBNET_IDS PRIVATE_SUBNET_IDS NAT_GATEWAYS CERTIFICATE_ARN INSTANCE_TYPE \
    CLUSTER_MIN_SIZE CLUSTER_MAX_SIZE ALARM_TOPIC_ARN DB_INSTANCE_CLASS DB_MULTI_AZ \
    DB_MAX_CONNECTIONS DB_DELETION_PROTECTION MIN_TASKS MAX_TASKS TASK_CPU TASK_MEMORY PUBLIC_URL \
    LOG_LEVEL NETWORK_PARAMS PLATFORM_PARAMS DATA_PARAMS SERVICE_PARAMS MIGRATOR_TIMEOUT
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL=$endpoint

"$python" scripts/test-deploy-agent.py 2>"$tmp/agent.log" &
agent_pid=$!

# What an account has before a first deploy: an ACM certificate of the public host name.
certificate=$(aws acm request-certificate --domain-name inlet.example.test --query CertificateArn --output text)

stack=inlet-test
# moto's CloudFormation skips AWS::ECS::CapacityProvider and AWS::SecretsManager::Secret, so the
# stacks lack three outputs; EMULATOR_OUTPUTS stands in for them: secrets made with moto's
# Secrets Manager API (their ARNs end up in the task definitions, checked below), and a capacity
# provider name that nothing checks (moto ignores capacity provider strategies in run-task and in
# services alike).
database_url_secret=$(aws secretsmanager create-secret --name "$stack/database-url" \
    --secret-string "postgresql://inlet:moto@db.invalid:5432/inlet?sslmode=require" --query ARN --output text)
admin_token_secret=$(aws secretsmanager create-secret --name "$stack/admin-token" \
    --secret-string moto-admin-token --query ARN --output text)
export STACK_NAME=$stack
export EMULATOR_OUTPUTS="CapacityProviderName=moto-has-no-capacity-provider DatabaseUrlSecretArn=$database_url_secret AdminTokenSecretArn=$admin_token_secret"
image=registry.example.test/inlet

deploy() { # LOG IMAGE [VAR=value ...]: scripts/deploy.sh, bounded in time, its output in LOG
    local out=$1 tag=$2
    shift 2
    env IMAGE="$image:$tag" "$@" timeout 240 scripts/deploy.sh >"$out" 2>&1
}

stack_field() { # STACK QUERY
    aws cloudformation describe-stacks --stack-name "$1" --query "Stacks[0].$2" --output text
}
stack_output() { stack_field "$1" "Outputs[?OutputKey=='$2'].OutputValue | [0]"; }
stack_parameter() { stack_field "$1" "Parameters[?ParameterKey=='$2'].ParameterValue | [0]"; }
# line_of LOG TEXT: the number of the first line of LOG holding TEXT (0 when none)
line_of() { grep -n -F -- "$2" "$1" | head -n 1 | cut -d: -f1 || echo 0; }

migrator_tasks() { # the migrator tasks the deploys started, as "image status" lines, oldest first
    local cluster=$1 arns
    arns=$(aws ecs list-tasks --cluster "$cluster" --started-by inlet-deploy --query 'taskArns' --output text)
    [ -n "$arns" ] && [ "$arns" != None ] || return 0
    # shellcheck disable=SC2086
    aws ecs describe-tasks --cluster "$cluster" --tasks $arns --include TAGS --output text \
        --query "tasks[].[tags[?key=='image'].value | [0], lastStatus, taskDefinitionArn]"
}

# --- 2. first deploy: everything created --------------------------------------------------------

log "deploy 1: $image:1.0.0 (creates the stacks)"
deploy "$tmp/deploy1.log" 1.0.0 CERTIFICATE_ARN="$certificate" MIN_TASKS=2 ||
    fail "deploy 1 failed: $(cat "$tmp/deploy1.log")"
sed 's/^/  | /' "$tmp/deploy1.log" >&2

stacks() { # every stack of the test as "name status id" lines, in one call
    aws cloudformation describe-stacks --output text \
        --query "sort_by(Stacks[?starts_with(StackName, '$stack-')], &StackName)[].[StackName, StackStatus, StackId]"
}
stacks >"$tmp/stacks1"
expect "stacks after deploy 1" "$(cut -f1,2 "$tmp/stacks1" | tr '\t\n' ' /')" \
    "$stack-data CREATE_COMPLETE/$stack-network CREATE_COMPLETE/$stack-platform CREATE_COMPLETE/$stack-service CREATE_COMPLETE/"

cluster=$(stack_output "$stack-platform" ClusterName)
service=$(stack_output "$stack-service" ServiceName)
service_arn=$(aws ecs describe-services --cluster "$cluster" --services "$service" --query 'services[0].serviceArn' --output text)

# The order: the migrator stopped with exit 0 before the service stack was touched.
migrated=$(line_of "$tmp/deploy1.log" "migrator up exited 0")
serviced=$(line_of "$tmp/deploy1.log" "$stack-service: create")
[ "$migrated" -gt 0 ] && [ "$serviced" -gt "$migrated" ] ||
    fail "deploy 1: the service stack (line $serviced) was not created after the migrator succeeded (line $migrated)"
log "ok: deploy 1 ran the migrator to exit 0 (line $migrated) before creating the service (line $serviced)"
grep -q "migrator: still running\|waiting for it to stop" "$tmp/deploy1.log" || fail "deploy 1 did not wait for the migrator"

tasks=$(migrator_tasks "$cluster")
expect "migrator tasks after deploy 1" "$(echo "$tasks" | cut -f1,2 | tr '\t\n' ' /')" "$image:1.0.0 STOPPED/"
expect "migrator task definition" "$(echo "$tasks" | cut -f3)" "$(stack_output "$stack-data" MigratorTaskDefinitionArn)"
expect "migrator image" "$(aws ecs describe-task-definition --task-definition "$(echo "$tasks" | cut -f3)" \
    --query 'taskDefinition.containerDefinitions[0].[image, join(`" "`, command)]' --output text | tr '\t' ' ')" "$image:1.0.0 migrator up"

task_definition_1=$(stack_output "$stack-service" TaskDefinitionArn)
service_task_definition() { # the ARN the service's task definition resolves to
    aws ecs describe-task-definition --task-definition \
        "$(aws ecs describe-services --cluster "$cluster" --services "$service" --query 'services[0].taskDefinition' --output text)" \
        --query 'taskDefinition.taskDefinitionArn' --output text
}
expect "service's task definition after deploy 1" "$(service_task_definition)" "$task_definition_1"
expect "inlet container" "$(aws ecs describe-task-definition --task-definition "$task_definition_1" \
    --query 'taskDefinition.containerDefinitions[0].[image, join(`" "`, command), to_string(stopTimeout), join(`" "`, healthCheck.command)]' \
    --output text | tr '\t' ' ')" "$image:1.0.0 inlet serve 30 CMD inlet healthcheck --live"
expect "inlet secrets" "$(aws ecs describe-task-definition --task-definition "$task_definition_1" \
    --query 'taskDefinition.containerDefinitions[0].secrets[].[name, valueFrom]' --output text | tr '\t\n' ' /')" \
    "DATABASE_URL $database_url_secret/INLET_ADMIN_TOKEN $admin_token_secret/"
expect "service desired count" "$(aws ecs describe-services --cluster "$cluster" --services "$service" --query 'services[0].desiredCount' --output text)" 2

# What moto built from platform.yaml and data.yaml, where it keeps the properties.
target_group=$(stack_output "$stack-platform" TargetGroupArn)
expect "target group health check" "$(aws elbv2 describe-target-groups --target-group-arns "$target_group" \
    --query 'TargetGroups[0].[HealthCheckPath, to_string(Port), TargetType]' --output text | tr '\t' ' ')" "/readyz 8080 ip"
# (moto's CloudFormation drops LoadBalancerAttributes and TargetGroupAttributes: the idle timeout
# and the deregistration delay are checked in the templates, in step 1.)
load_balancer=$(aws elbv2 describe-target-groups --target-group-arns "$target_group" --query 'TargetGroups[0].LoadBalancerArns[0]' --output text)
expect "listeners" "$(aws elbv2 describe-listeners --load-balancer-arn "$load_balancer" --output text \
    --query 'sort_by(Listeners, &Port)[].[to_string(Port), Protocol, DefaultActions[0].Type, Certificates[0].CertificateArn || `-`]' | tr '\t\n' ' /')" \
    "80 HTTP redirect -/443 HTTPS forward $certificate/"
expect "hosts protected from scale-in" "$(aws autoscaling describe-auto-scaling-groups \
    --auto-scaling-group-names "$(stack_output "$stack-platform" AutoScalingGroupName)" \
    --query 'AutoScalingGroups[0].[to_string(NewInstancesProtectedFromScaleIn), to_string(MinSize), to_string(length(Instances))]' --output text | tr '\t' ' ')" "true 2 2"
# (--endpoint-url: the AWS CLI v1's rds commands ignore AWS_ENDPOINT_URL; deploy.sh calls none.)
aws --endpoint-url "$endpoint" rds describe-db-instances --output text \
    --query "DBInstances[?Engine=='postgres'] | [0].[EngineVersion, to_string(MultiAZ), to_string(StorageEncrypted), to_string(PubliclyAccessible), DBParameterGroups[0].DBParameterGroupName]" >"$tmp/db"
expect "database" "$(cut -f1-4 "$tmp/db" | tr '\t' ' ')" "15 true true false"
expect "database settings" "$(aws --endpoint-url "$endpoint" rds describe-db-parameters --db-parameter-group-name "$(cut -f5 "$tmp/db")" \
    --query "sort_by(Parameters[?ParameterName=='max_connections' || ParameterName=='rds.force_ssl'], &ParameterName)[].[ParameterName, ParameterValue]" \
    --output text | tr '\t\n' '=/')" "max_connections=300/rds.force_ssl=1/"

# --- 3. second deploy: a new image, the stacks updated in place --------------------------------

log "deploy 2: $image:1.1.0 (updates; CERTIFICATE_ARN not given, kept from the stack)"
deploy "$tmp/deploy2.log" 1.1.0 || fail "deploy 2 failed: $(cat "$tmp/deploy2.log")"
sed 's/^/  | /' "$tmp/deploy2.log" >&2

stacks >"$tmp/stacks2"
expect "the same stacks after deploy 2" "$(cut -f1,3 "$tmp/stacks2" | tr '\t\n' ' /')" "$(cut -f1,3 "$tmp/stacks1" | tr '\t\n' ' /')"
# (moto updates the platform stack although nothing changed: it compares the AMI parameter's
# resolved value with its SSM name; AWS finds no change there.)
expect "data and service stacks after deploy 2" "$(grep -E -- "-(data|service)\s" "$tmp/stacks2" | cut -f1,2 | tr '\t\n' ' /')" \
    "$stack-data UPDATE_COMPLETE/$stack-service UPDATE_COMPLETE/"
expect "certificate kept" "$(stack_parameter "$stack-platform" CertificateArn)" "$certificate"
expect "service image parameter" "$(stack_parameter "$stack-service" Image)" "$image:1.1.0"
expect "the same service" "$(aws ecs describe-services --cluster "$cluster" --services "$service" --query 'services[0].serviceArn' --output text)" "$service_arn"
task_definition_2=$(stack_output "$stack-service" TaskDefinitionArn)
[ "$task_definition_2" != "$task_definition_1" ] || fail "deploy 2 left the task definition at $task_definition_1"
expect "service's task definition after deploy 2" "$(service_task_definition)" "$task_definition_2"
expect "new revision" "${task_definition_2##*:}" "$((${task_definition_1##*:} + 1))"
expect "migrator tasks after deploy 2" "$(migrator_tasks "$cluster" | cut -f1,2 | sort | tr '\t\n' ' /')" "$image:1.0.0 STOPPED/$image:1.1.0 STOPPED/"
migrated=$(line_of "$tmp/deploy2.log" "migrator up exited 0")
serviced=$(line_of "$tmp/deploy2.log" "$stack-service: update")
[ "$migrated" -gt 0 ] && [ "$serviced" -gt "$migrated" ] ||
    fail "deploy 2: the service stack (line $serviced) was not updated after the migrator succeeded (line $migrated)"
log "ok: deploy 2 ran the migrator to exit 0 (line $migrated) before updating the service (line $serviced)"
expect "service desired count kept" "$(aws ecs describe-services --cluster "$cluster" --services "$service" --query 'services[0].desiredCount' --output text)" 2

# --- 4. third deploy: the migrator cannot run, the service stays --------------------------------

instances=$(aws ecs list-container-instances --cluster "$cluster" --query 'containerInstanceArns' --output text)
# shellcheck disable=SC2086
aws ecs update-container-instances-state --cluster "$cluster" --container-instances $instances --status DRAINING >/dev/null
log "deploy 3: $image:1.2.0 with every host draining (the migrator cannot be placed)"
if deploy "$tmp/deploy3.log" 1.2.0; then
    fail "deploy 3 succeeded without a migrator: $(cat "$tmp/deploy3.log")"
fi
sed 's/^/  | /' "$tmp/deploy3.log" >&2
grep -q "the migrator task did not start" "$tmp/deploy3.log" || fail "deploy 3 failed for another reason"
[ "$(line_of "$tmp/deploy3.log" "$stack-service:")" = 0 ] || fail "deploy 3 touched the service stack"
expect "service image after the failed deploy" "$(stack_parameter "$stack-service" Image)" "$image:1.1.0"
expect "service's task definition after the failed deploy" "$(service_task_definition)" "$task_definition_2"
expect "$stack-service after the failed deploy" "$(stack_field "$stack-service" StackStatus)" UPDATE_COMPLETE

kill -0 "$moto_pid" 2>/dev/null || fail "moto_server died during the test"
log "passed in $((SECONDS - started)) s"
