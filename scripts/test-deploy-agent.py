#!/usr/bin/env python3
"""The ECS agent's one job that moto has nobody to do, for scripts/test-deploy.sh.

On AWS, each host the Auto Scaling group launches boots, reads ECS_CLUSTER from the user data
of its launch template (written into /etc/ecs/ecs.config) and registers with that cluster as a
container instance; only then can `aws ecs run-task` place the migrator. moto launches the
group's instances but runs no agent, so this loop does that registration, from the same data:
the cluster name is read from the launch template's user data, not given to it. A wrong
ECS_CLUSTER line in platform.yaml therefore leaves the migrator unplaceable, and the test fails.

    test-deploy-agent.py        (AWS_ENDPOINT_URL and credentials from the environment)

Runs until it is killed. It registers each instance once; it never re-activates an instance
the test drained.
"""

import base64
import json
import re
import sys
import time

import boto3
from botocore.exceptions import ClientError

CLUSTER_LINE = re.compile(r"^ECS_CLUSTER=(\S+)$", re.MULTILINE)


def cluster_of(ec2, launch_template):
    """The ECS_CLUSTER the launch template's user data writes, or None."""
    versions = ec2.describe_launch_template_versions(
        LaunchTemplateId=launch_template["LaunchTemplateId"],
        Versions=[str(launch_template.get("Version", "$Latest"))],
    )["LaunchTemplateVersions"]
    if not versions:
        return None
    user_data = versions[0]["LaunchTemplateData"].get("UserData")
    if not user_data:
        return None
    match = CLUSTER_LINE.search(base64.b64decode(user_data).decode("utf-8", "replace"))
    return match.group(1) if match else None


def main():
    autoscaling = boto3.client("autoscaling")
    ec2 = boto3.client("ec2")
    ecs = boto3.client("ecs")
    registered = set()
    while True:
        try:
            for group in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]:
                template = group.get("LaunchTemplate")
                pending = [i for i in group.get("Instances", []) if i["InstanceId"] not in registered]
                if not template or not pending:
                    continue
                cluster = cluster_of(ec2, template)
                if cluster is None:
                    continue
                for instance in pending:
                    document = {
                        "instanceId": instance["InstanceId"],
                        "availabilityZone": instance.get("AvailabilityZone"),
                        "region": ecs.meta.region_name,
                    }
                    ecs.register_container_instance(
                        cluster=cluster, instanceIdentityDocument=json.dumps(document)
                    )
                    registered.add(instance["InstanceId"])
                    print(
                        f"agent: {instance['InstanceId']} registered with {cluster}",
                        file=sys.stderr,
                        flush=True,
                    )
        except ClientError as error:
            # A cluster not created yet, a stack half-way: try again on the next round.
            print(f"agent: {error}", file=sys.stderr, flush=True)
        time.sleep(0.3)


if __name__ == "__main__":
    main()
