#!/usr/bin/env python3
"""The parts of scripts/deploy.sh that read JSON, kept here so each decision is one function.

    deploy-aws.py parameters TEMPLATE STACK_JSON [Key=Value ...]
        The --parameters JSON of a create-stack (STACK_JSON is "null") or an update-stack
        (STACK_JSON is the stack, as describe-stacks gives it): each Key=Value given, with an empty value
        meaning the empty string; on an update, every other parameter the template and the
        stack share keeps its previous value (as `aws cloudformation deploy` does); the rest
        (all of them at creation) get the template's default, passed as a value. A key the template does not declare is an
        error, so a misspelt knob fails the deploy instead of being ignored.

    deploy-aws.py started RUN_TASK_JSON
        The ARN of the one task `aws ecs run-task` started; exit 1 with ECS's failures if none.

    deploy-aws.py result DESCRIBE_TASKS_JSON CONTAINER
        Exit 0 when the task has stopped and CONTAINER exited 0. Exit 1, saying why, when it
        exited otherwise or never ran (image pull, secrets, no capacity: no exit code at all).
        Exit 3 when the task has not stopped yet.

JSON arguments are file paths ("-" for stdin). Only the standard library and PyYAML (which the
AWS CLI depends on) are used.
"""

import json
import sys

import yaml


class _TemplateLoader(yaml.SafeLoader):
    """Reads a CloudFormation template's YAML, short-form intrinsics (!Ref, !Sub) included."""


def _intrinsic(loader, suffix, node):
    # Only the Parameters section is read; the value of an intrinsic does not matter here.
    return None


_TemplateLoader.add_multi_constructor("!", _intrinsic)


def _load_json(path):
    if path == "-":
        return json.load(sys.stdin)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def parameters(template_path, stack_parameters, assignments):
    with open(template_path, encoding="utf-8") as f:
        declared = (yaml.load(f, Loader=_TemplateLoader) or {}).get("Parameters") or {}
    given = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep:
            raise SystemExit(f"deploy: {assignment!r} is not Key=Value")
        if key not in declared:
            raise SystemExit(f"deploy: {template_path} has no parameter {key!r}")
        given[key] = value
    previous = {p["ParameterKey"] for p in (stack_parameters or [])}
    result = []
    for key, declaration in declared.items():
        if key in given:
            result.append({"ParameterKey": key, "ParameterValue": given[key]})
        elif key in previous:
            result.append({"ParameterKey": key, "UsePreviousValue": True})
        elif "Default" in (declaration or {}):
            # Defaults are passed as values, so the stack records every parameter: the same
            # stack on AWS, and moto (whose UsePreviousValue knows only the parameters given, and
            # whose updates take a parameter first given as changed) then updates what changed.
            result.append({"ParameterKey": key, "ParameterValue": _text(declaration["Default"])})
    return result


def _text(value):
    """A YAML default as CloudFormation reads it (Number defaults are numbers in YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def started_task(run_task):
    tasks = run_task.get("tasks") or []
    if len(tasks) != 1:
        failures = run_task.get("failures") or []
        reasons = "; ".join(
            f"{f.get('arn', '?')}: {f.get('reason', '?')} {f.get('detail', '')}".strip()
            for f in failures
        )
        raise SystemExit(
            f"deploy: the migrator task did not start ({len(tasks)} tasks"
            f"{', failures: ' + reasons if reasons else ', no failure reported'})"
        )
    return tasks[0]["taskArn"]


def task_result(describe_tasks, container_name):
    """(exit status, message) for a described one-off task."""
    tasks = describe_tasks.get("tasks") or []
    if len(tasks) != 1:
        return 1, f"the migrator task is not known to ECS ({describe_tasks.get('failures')})"
    task = tasks[0]
    if task.get("lastStatus") != "STOPPED":
        return 3, f"the migrator task is {task.get('lastStatus')}, not stopped yet"
    container = next(
        (c for c in task.get("containers") or [] if c.get("name") == container_name), None
    )
    why = " ".join(
        part
        for part in (
            task.get("stopCode"),
            task.get("stoppedReason"),
            (container or {}).get("reason"),
        )
        if part
    )
    if container is None:
        return 1, f"the migrator task has no container {container_name!r} ({why or 'no reason given'})"
    if "exitCode" not in container:
        # ECS gives no exit code to a container that never started.
        return 1, f"the migrator never ran: {why or 'no reason given'}"
    if container["exitCode"] != 0:
        return 1, f"migrator up exited {container['exitCode']}{': ' + why if why else ''}"
    return 0, "migrator up exited 0"


def main(argv):
    if len(argv) >= 3 and argv[0] == "parameters":
        stack = _load_json(argv[2]) or {}
        print(json.dumps(parameters(argv[1], stack.get("Parameters"), argv[3:])))
        return 0
    if len(argv) == 2 and argv[0] == "started":
        print(started_task(_load_json(argv[1])))
        return 0
    if len(argv) == 3 and argv[0] == "result":
        status, message = task_result(_load_json(argv[1]), argv[2])
        print(message, file=sys.stderr if status else sys.stdout)
        return status
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
