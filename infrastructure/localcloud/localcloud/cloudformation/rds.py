"""`AWS::RDS::DBInstance`, fixed where moto's model breaks real templates.

moto's model defaults Port to 3306 whatever the engine (a PostgreSQL instance
would listen on MySQL's port), expects DBSubnetGroupName to be an object
rather than the name a `!Ref` gives, ignores VPCSecurityGroups, and has no
update, so an UpdateStack that touches the instance loses it from the stack.
Here moto's model is still what creates the instance (the RDS data plane hooks
it to start PostgreSQL and wait until it is available), given the properties
in the shapes it expects; the port defaults to the engine's. An update changes
the master password, storage and class in place (ModifyDBInstance); other
changes are logged and not applied.
Ref is the instance identifier; Fn::GetAtt Endpoint.Address / Endpoint.Port
are what the instance reports, DBInstanceArn its ARN.
"""

from __future__ import annotations

import logging
from typing import Any

from moto.rds.models import DBInstance as MotoDBInstance
from moto.rds.models import rds_backends

from .base import LocalResource, tags_to_dict

logger = logging.getLogger(__name__)

_MOTO_DEFAULT_PORT = 3306
_MODIFIABLE = {
    "MasterUserPassword": "master_user_password",
    "AllocatedStorage": "allocated_storage",
    "DBInstanceClass": "db_instance_class",
}


class DBInstance(LocalResource):
    TYPE = "AWS::RDS::DBInstance"
    NAME_PROPERTY = "DBInstanceIdentifier"
    ATTRIBUTES = frozenset(
        {"Endpoint.Address", "Endpoint.Port", "DBInstanceArn", "DbiResourceId"}
    )

    @classmethod
    def create(
        cls,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> DBInstance:
        engine = str(properties.get("Engine", "postgres"))
        identifier = str(properties.get("DBInstanceIdentifier") or name).lower()
        if properties.get("ManageMasterUserPassword"):
            logger.warning(
                "DB instance %s: ManageMasterUserPassword is not supported by the "
                "local cloud; generate the password into a secret instead",
                identifier,
            )
        # moto's own model is the entry point the RDS data plane wraps (it
        # starts the server and waits until it is available), so it is called
        # with the properties in the shapes it expects.
        normalized = dict(properties)
        normalized["DBSubnetGroupName"] = _named(properties.get("DBSubnetGroupName"))
        normalized["DBSecurityGroups"] = [
            _named(group) for group in properties.get("DBSecurityGroups") or []
        ]
        normalized["VpcSecurityGroupIds"] = list(
            properties.get("VPCSecurityGroups")
            or properties.get("VpcSecurityGroupIds")
            or []
        )
        normalized["Tags"] = [
            {"Key": k, "Value": v}
            for k, v in tags_to_dict(properties.get("Tags")).items()
        ]
        if "Port" in properties:
            normalized["Port"] = int(properties["Port"])
        if "AllocatedStorage" in properties:
            normalized["AllocatedStorage"] = int(properties["AllocatedStorage"])
        database = MotoDBInstance.create_from_cloudformation_json(
            identifier, {"Properties": normalized}, account_id, region
        )
        default_port = MotoDBInstance.default_port(engine)
        if "Port" not in properties and database.port == _MOTO_DEFAULT_PORT:
            database.port = default_port  # moto's 3306 whatever the engine
        return cls(database.db_instance_identifier, properties, account_id, region)

    @classmethod
    def update(
        cls,
        original: Any,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> Any:
        before = original.properties
        identifier = original.physical_resource_id
        changes = {
            argument: properties[key]
            for key, argument in _MODIFIABLE.items()
            if key in properties and properties.get(key) != before.get(key)
        }
        if changes:
            rds_backends[account_id][region].modify_db_instance(identifier, changes)
        ignored = sorted(
            key
            for key in set(properties) | set(before)
            if key not in _MODIFIABLE and properties.get(key) != before.get(key)
        )
        if ignored:
            logger.warning(
                "DB instance %s: changes to %s are not applied by the local cloud",
                identifier,
                ", ".join(ignored),
            )
        original.properties = properties
        return original

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        database = rds_backends[self.account_id][self.region].databases.get(
            self.physical_resource_id
        )
        if database is None:
            return super().get_cfn_attribute(attribute_name)
        if attribute_name == "DBInstanceArn":
            return database.db_instance_arn
        if attribute_name == "DbiResourceId":
            return database.dbi_resource_id
        return database.get_cfn_attribute(attribute_name)

    def remove(self) -> None:
        backend = rds_backends[self.account_id][self.region]
        if self.physical_resource_id in backend.databases:
            backend.delete_db_instance(self.physical_resource_id)


class _Named:
    """What moto's model expects for a subnet or security group: a `.name`."""

    def __init__(self, name: str) -> None:
        self.name = name


def _named(value: Any) -> _Named | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _Named(value)
    return _Named(str(getattr(value, "name", value)))
