#!/usr/bin/env python3
"""moto_server for scripts/test-deploy.sh, with two of moto 5.2.1's CloudFormation bugs fixed.

    test-deploy-moto.py -H 127.0.0.1 -p PORT     (the arguments of moto_server)

Both fixes make moto do what CloudFormation does with templates it already accepts; neither
changes what an ECS task reports or skips a step of the deploy:

  - An updated AWS::ECS::TaskDefinition is registered with its container definitions in the
    template's PascalCase (Name, Image) where creation converts them to the API's camelCase,
    so the new revision's containers have no name and no image. Updates now convert as creation
    does.
  - A Ref to an AWS::RDS::DBParameterGroup yields moto's object instead of the group's name, and
    the DB instance that uses it fails. The group's physical id is now its name, as on AWS.

Anything else moto lacks is listed in deploy/aws/README.md, not patched here.
"""

from moto.core.utils import pascal_to_camelcase, remap_nested_keys
from moto.ecs import models as ecs
from moto.rds import models as rds
from moto.server import main

_update_task_definition = ecs.TaskDefinition.update_from_cloudformation_json.__func__


def _update_task_definition_camelcase(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    properties = cloudformation_json["Properties"]
    for key in ("ContainerDefinitions", "Volumes"):
        if key in properties:
            properties[key] = remap_nested_keys(properties[key], pascal_to_camelcase)
    return _update_task_definition(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    )


ecs.TaskDefinition.update_from_cloudformation_json = classmethod(_update_task_definition_camelcase)
rds.DBParameterGroup.physical_resource_id = property(lambda group: group.name)

if __name__ == "__main__":
    main()
