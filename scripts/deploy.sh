#!/usr/bin/env bash
# `make deploy`: Inlet on AWS, created or updated, with the AWS CLI pinned in
# deploy/aws/requirements.txt (scripts/aws-tools.sh installs it under .local/).
#
#   1. STACK-network   (network.yaml)   unless VPC_ID, PUBLIC_SUBNET_IDS, PRIVATE_SUBNET_IDS are set
#   2. STACK-platform  (platform.yaml)  load balancer, target group, ECS cluster + capacity provider
#   3. STACK-data      (data.yaml)      RDS, secrets, and the migrator's task definition for IMAGE
#   4. `migrator up` of IMAGE as a one-off ECS task; wait until it stops; its exit code must be 0.
#      Otherwise the deploy fails here and the service keeps running the version it ran.
#   5. STACK-service   (service.yaml)   the inlet task definition for IMAGE and the service, which
#      CloudFormation rolls out (new tasks healthy on /readyz before old ones leave; the
#      deployment circuit breaker rolls a failing rollout back); then `aws ecs wait services-stable`.
#
# Each stack is created, or updated and waited for; "no changes" is fine. Knobs not given keep
# the value the stack already has (else the template's default), as `aws cloudformation deploy`
# does. Required: IMAGE, AWS_REGION (or AWS_DEFAULT_REGION), and CERTIFICATE_ARN for the first
# deploy. The rest, and rollback, are in deploy/aws/README.md. AWS_ENDPOINT_URL, read by the AWS
# CLI itself, points every call at an emulator (scripts/test-deploy.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "deploy: [${SECONDS}s] $*" >&2; }
die() {
    log "$*"
    exit 1
}

: "${IMAGE:?IMAGE is required: the image URI to deploy (it holds inlet and migrator)}"
region=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
[ -n "$region" ] || die "AWS_REGION is required"
# The AWS CLI v1 reads AWS_DEFAULT_REGION.
export AWS_REGION=$region AWS_DEFAULT_REGION=$region
stack=${STACK_NAME:-inlet}
migrator_timeout=${MIGRATOR_TIMEOUT:-1800}

bin=$(scripts/aws-tools.sh bin)
export PATH="$bin:$PATH"
python="$bin/python"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- CloudFormation ---------------------------------------------------------------------------

# The stack's status, or NONE when it does not exist (any other error stops the deploy); the
# stack's description is left in $tmp/NAME.stack ("null" when there is none).
stack_status() {
    if aws cloudformation describe-stacks --stack-name "$1" --query 'Stacks[0]' \
        --output json >"$tmp/$1.stack" 2>"$tmp/err"; then
        "$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["StackStatus"])' "$tmp/$1.stack"
    elif grep -q 'does not exist' "$tmp/err"; then
        echo null >"$tmp/$1.stack"
        echo NONE
    else
        cat "$tmp/err" >&2
        die "cannot read stack $1"
    fi
}

# Waits for WAITER (stack-create-complete, stack-update-complete); an update of the service can
# outlast one waiter (60 minutes), so the wait goes on while the stack is still in progress.
wait_stack() {
    local name=$1 waiter=$2 status
    until aws cloudformation wait "$waiter" --stack-name "$name" 2>"$tmp/err"; do
        status=$(stack_status "$name")
        case "$status" in
            *_IN_PROGRESS) log "$name: still $status" ;;
            *)
                log "$name: $status; what failed:"
                aws cloudformation describe-stack-events --stack-name "$name" --output text \
                    --query "StackEvents[?ends_with(ResourceStatus, 'FAILED')] | [:10].[Timestamp, LogicalResourceId, ResourceStatusReason]" >&2 || true
                die "$name did not complete"
                ;;
        esac
    done
}

# deploy_stack NAME TEMPLATE [Key=Value ...]: create or update NAME from TEMPLATE and wait.
deploy_stack() {
    local name=$1 template=$2 status action
    shift 2
    status=$(stack_status "$name")
    case "$status" in
        NONE) action=create ;;
        CREATE_COMPLETE | UPDATE_COMPLETE | UPDATE_ROLLBACK_COMPLETE | IMPORT_COMPLETE | IMPORT_ROLLBACK_COMPLETE) action=update ;;
        ROLLBACK_COMPLETE)
            die "$name failed its creation (ROLLBACK_COMPLETE): read its events, then" \
                "aws cloudformation delete-stack --stack-name $name, and deploy again" ;;
        *) die "$name is $status: wait for it to finish (or repair it), then deploy again" ;;
    esac
    "$python" scripts/deploy-aws.py parameters "$template" "$tmp/$name.stack" "$@" >"$tmp/parameters.json"
    log "$name: $action ($template)"
    # --template-body takes up to 51,200 bytes; a larger template needs --template-url (S3).
    local common=(--stack-name "$name" --template-body "file://$template"
        --parameters "file://$tmp/parameters.json" --capabilities CAPABILITY_IAM
        --tags "Key=inlet:stack,Value=$stack")
    if [ "$action" = create ]; then
        aws cloudformation create-stack "${common[@]}" >/dev/null
        wait_stack "$name" stack-create-complete
    else
        if ! aws cloudformation update-stack "${common[@]}" >/dev/null 2>"$tmp/err"; then
            if grep -q 'No updates are to be performed' "$tmp/err"; then
                log "$name: no changes"
                return
            fi
            cat "$tmp/err" >&2
            die "$name: update refused"
        fi
        wait_stack "$name" stack-update-complete
    fi
    log "$name: ${action}d"
}

# outputs NAME: the stack's outputs, one "Key<TAB>Value" a line, into $tmp/NAME.outputs.
outputs() {
    aws cloudformation describe-stacks --stack-name "$1" --output text \
        --query 'Stacks[0].Outputs[].[OutputKey, OutputValue]' >"$tmp/$1.outputs"
}

# output NAME KEY: one output of a stack read by `outputs`. EMULATOR_OUTPUTS ("Key=Value ...")
# stands in for outputs a stack lacks because an emulator's CloudFormation skipped the resource
# (moto skips capacity providers and secrets: deploy/aws/README.md); never needed on AWS, and
# never used where the stack has the output.
output() {
    local value word
    value=$(awk -F '\t' -v key="$2" '$1 == key { print $2 }' "$tmp/$1.outputs")
    if [ -z "$value" ]; then
        for word in ${EMULATOR_OUTPUTS:-}; do
            if [ "${word%%=*}" = "$2" ]; then value=${word#*=}; fi
        done
        [ -n "$value" ] || die "stack $1 has no output $2"
        log "$1: no output $2; EMULATOR_OUTPUTS gives $value"
    fi
    echo "$value"
}

# knob ARRAY Parameter VARIABLE: add Parameter=$VARIABLE to ARRAY when VARIABLE is set.
knob() {
    # shellcheck disable=SC2178 # a nameref to the caller's array
    local -n args=$1
    if [ -n "${!3:-}" ]; then args+=("$2=${!3}"); fi
}

# extra ARRAY VARIABLE: add VARIABLE's space-separated Key=Value words to ARRAY.
extra() {
    # shellcheck disable=SC2178 # a nameref to the caller's array
    local -n args=$1
    local words
    read -r -a words <<<"${!2:-}"
    args+=("${words[@]}")
}

# --- 1. network ---------------------------------------------------------------------------------

if [ -n "${VPC_ID:-}${PUBLIC_SUBNET_IDS:-}${PRIVATE_SUBNET_IDS:-}" ]; then
    [ -n "${VPC_ID:-}" ] && [ -n "${PUBLIC_SUBNET_IDS:-}" ] && [ -n "${PRIVATE_SUBNET_IDS:-}" ] ||
        die "an existing network needs all three of VPC_ID, PUBLIC_SUBNET_IDS, PRIVATE_SUBNET_IDS"
    vpc=$VPC_ID public_subnets=$PUBLIC_SUBNET_IDS private_subnets=$PRIVATE_SUBNET_IDS
    log "network: existing $vpc (public $public_subnets, private $private_subnets)"
else
    network_args=(EnvironmentName="$stack")
    knob network_args NatGateways NAT_GATEWAYS
    extra network_args NETWORK_PARAMS
    deploy_stack "$stack-network" deploy/aws/network.yaml "${network_args[@]}"
    outputs "$stack-network"
    vpc=$(output "$stack-network" VpcId)
    public_subnets=$(output "$stack-network" PublicSubnetIds)
    private_subnets=$(output "$stack-network" PrivateSubnetIds)
fi

# --- 2. platform --------------------------------------------------------------------------------

if [ "$(stack_status "$stack-platform")" = NONE ] && [ -z "${CERTIFICATE_ARN:-}" ]; then
    die "CERTIFICATE_ARN is required to create $stack-platform (an ACM certificate of the public host name)"
fi
platform_args=(EnvironmentName="$stack" VpcId="$vpc" PublicSubnetIds="$public_subnets"
    PrivateSubnetIds="$private_subnets")
knob platform_args CertificateArn CERTIFICATE_ARN
knob platform_args InstanceType INSTANCE_TYPE
knob platform_args ClusterMinSize CLUSTER_MIN_SIZE
knob platform_args ClusterMaxSize CLUSTER_MAX_SIZE
knob platform_args AlarmTopicArn ALARM_TOPIC_ARN
extra platform_args PLATFORM_PARAMS
deploy_stack "$stack-platform" deploy/aws/platform.yaml "${platform_args[@]}"
outputs "$stack-platform"
cluster=$(output "$stack-platform" ClusterName)
task_security_group=$(output "$stack-platform" TaskSecurityGroupId)
target_group=$(output "$stack-platform" TargetGroupArn)
log_group=$(output "$stack-platform" LogGroupName)
load_balancer=$(output "$stack-platform" LoadBalancerDnsName)
capacity_provider=$(output "$stack-platform" CapacityProviderName)

# --- 3. data ------------------------------------------------------------------------------------

data_args=(EnvironmentName="$stack" VpcId="$vpc" PrivateSubnetIds="$private_subnets"
    TaskSecurityGroupId="$task_security_group" LogGroupName="$log_group" MigratorImage="$IMAGE")
knob data_args DbInstanceClass DB_INSTANCE_CLASS
knob data_args MultiAz DB_MULTI_AZ
knob data_args MaxConnections DB_MAX_CONNECTIONS
knob data_args DeletionProtection DB_DELETION_PROTECTION
knob data_args AlarmTopicArn ALARM_TOPIC_ARN
extra data_args DATA_PARAMS
deploy_stack "$stack-data" deploy/aws/data.yaml "${data_args[@]}"
outputs "$stack-data"
migrator_task_definition=$(output "$stack-data" MigratorTaskDefinitionArn)

# --- 4. migrator up -----------------------------------------------------------------------------

# The capacity provider, as the service uses: with no room on the hosts the task waits in
# PROVISIONING while managed scaling adds one, where a launch type would fail at once.
log "migrator: run-task $migrator_task_definition on $cluster"
aws ecs run-task --cluster "$cluster" --task-definition "$migrator_task_definition" --count 1 \
    --capacity-provider-strategy "capacityProvider=$capacity_provider,weight=1" \
    --network-configuration "awsvpcConfiguration={subnets=[$private_subnets],securityGroups=[$task_security_group],assignPublicIp=DISABLED}" \
    --started-by inlet-deploy \
    --tags "$("$python" -c 'import json, sys; print(json.dumps([{"key": "image", "value": sys.argv[1]}]))' "$IMAGE")" \
    >"$tmp/run-task.json"
task=$("$python" scripts/deploy-aws.py started "$tmp/run-task.json")
log "migrator: task $task started; waiting for it to stop (at most ${migrator_timeout}s)"

deadline=$((SECONDS + migrator_timeout))
# One waiter gives up after 10 minutes; a long migration gets more, up to MIGRATOR_TIMEOUT.
until aws ecs wait tasks-stopped --cluster "$cluster" --tasks "$task" 2>"$tmp/err"; do
    if ! grep -q 'Max attempts exceeded' "$tmp/err"; then
        cat "$tmp/err" >&2
        die "migrator: cannot follow task $task; the service was not updated"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        die "migrator: task $task still running after ${migrator_timeout}s; the service was not" \
            "updated. It holds the migration lock: read its log (stream migrator/migrator/${task##*/}" \
            "in $log_group) or stop it: aws ecs stop-task --cluster $cluster --task $task"
    fi
    log "migrator: still running"
done
aws ecs describe-tasks --cluster "$cluster" --tasks "$task" >"$tmp/task.json"

# Its output, best effort (the log stream may not exist when the task never started).
aws logs get-log-events --log-group-name "$log_group" \
    --log-stream-name "migrator/migrator/${task##*/}" --limit 50 \
    --query 'events[].[message]' --output text 2>/dev/null | sed 's/^/migrator| /' >&2 || true

if ! "$python" scripts/deploy-aws.py result "$tmp/task.json" migrator; then
    die "migrator: failed; $stack-service was not updated and keeps running its current version"
fi

# --- 5. service ---------------------------------------------------------------------------------

service_args=(EnvironmentName="$stack" Image="$IMAGE" ClusterName="$cluster"
    CapacityProviderName="$capacity_provider" PrivateSubnetIds="$private_subnets"
    TaskSecurityGroupId="$task_security_group" TargetGroupArn="$target_group"
    LogGroupName="$log_group"
    ExecutionRoleArn="$(output "$stack-data" ExecutionRoleArn)"
    DatabaseUrlSecretArn="$(output "$stack-data" DatabaseUrlSecretArn)"
    AdminTokenSecretArn="$(output "$stack-data" AdminTokenSecretArn)")
# DesiredCount only at creation: on updates target tracking owns the count.
if [ "$(stack_status "$stack-service")" = NONE ]; then
    service_args+=(DesiredCount="${MIN_TASKS:-2}")
else
    service_args+=(DesiredCount=-1)
fi
knob service_args MinTasks MIN_TASKS
knob service_args MaxTasks MAX_TASKS
knob service_args TaskCpu TASK_CPU
knob service_args TaskMemory TASK_MEMORY
knob service_args PublicUrl PUBLIC_URL
knob service_args LogLevel LOG_LEVEL
knob service_args AlarmTopicArn ALARM_TOPIC_ARN
extra service_args SERVICE_PARAMS
deploy_stack "$stack-service" deploy/aws/service.yaml "${service_args[@]}"
outputs "$stack-service"
service=$(output "$stack-service" ServiceName)
log "service: waiting for $service to be stable"
aws ecs wait services-stable --cluster "$cluster" --services "$service"

log "done: $IMAGE on $service ($(output "$stack-service" TaskDefinitionArn))"
log "load balancer: https://$load_balancer (point the public host name of the certificate at it)"
