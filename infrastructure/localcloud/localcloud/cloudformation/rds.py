"""`AWS::RDS::DBInstance`, fixed where moto's model breaks real templates.

moto's model defaults Port to 3306 whatever the engine (a PostgreSQL instance
would listen on MySQL's port), expects DBSubnetGroupName to be an object
rather than the name a `!Ref` gives, ignores VPCSecurityGroups, and has no
update, so an UpdateStack that touches the instance loses it from the stack.
Here the instance is created through moto's `create_db_instance`, the call
CreateDBInstance makes (which the RDS data plane acts on), with the engine's
default port. An update changes the master password, storage and class in
place (ModifyDBInstance); other changes are logged and not applied.
Ref is the instance identifier; Fn::GetAtt Endpoint.Address / Endpoint.Port
are what the instance reports, DBInstanceArn its ARN.
"""

from __future__ import annotations

import logging
from typing import Any

from moto.rds.models import DBInstance as MotoDBInstance
from moto.rds.models import rds_backends

from .base import LocalResource, as_bool, tags_to_dict

logger = logging.getLogger(__name__)

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
        identifier = identifier.replace("_", "-")
        subnet_group = properties.get("DBSubnetGroupName")
        if subnet_group is not None and not isinstance(subnet_group, str):
            subnet_group = getattr(subnet_group, "subnet_name", None) or getattr(
                subnet_group, "name", None
            )
        security_groups = [
            str(getattr(group, "group_name", group))
            for group in properties.get("DBSecurityGroups") or []
        ]
        if properties.get("ManageMasterUserPassword"):
            logger.warning(
                "DB instance %s: ManageMasterUserPassword is not supported by the "
                "local cloud; generate the password into a secret instead",
                identifier,
            )
        arguments = {
            "db_instance_identifier": identifier,
            "engine": engine,
            "engine_version": properties.get("EngineVersion"),
            "db_instance_class": properties.get("DBInstanceClass"),
            "allocated_storage": _int(properties.get("AllocatedStorage")),
            "db_name": properties.get("DBName"),
            "master_username": properties.get("MasterUsername"),
            "master_user_password": properties.get("MasterUserPassword"),
            "port": _int(properties.get("Port")) or MotoDBInstance.default_port(engine),
            "db_subnet_group_name": subnet_group,
            "db_security_groups": security_groups,
            "vpc_security_group_ids": list(
                properties.get("VPCSecurityGroups")
                or properties.get("VpcSecurityGroupIds")
                or []
            ),
            "availability_zone": properties.get("AvailabilityZone"),
            "multi_az": as_bool(properties.get("MultiAZ")),
            "publicly_accessible": as_bool(properties.get("PubliclyAccessible")),
            "storage_type": properties.get("StorageType"),
            "storage_encrypted": as_bool(properties.get("StorageEncrypted")),
            "iops": _int(properties.get("Iops")),
            "kms_key_id": properties.get("KmsKeyId"),
            "backup_retention_period": _int(properties.get("BackupRetentionPeriod")),
            "preferred_backup_window": properties.get(
                "PreferredBackupWindow", "13:14-13:44"
            ),
            "preferred_maintenance_window": str(
                properties.get("PreferredMaintenanceWindow", "wed:06:38-wed:07:08")
            ).lower(),
            "auto_minor_version_upgrade": properties.get("AutoMinorVersionUpgrade"),
            "db_parameter_group_name": properties.get("DBParameterGroupName"),
            "copy_tags_to_snapshot": properties.get("CopyTagsToSnapshot"),
            "deletion_protection": as_bool(properties.get("DeletionProtection")),
            "tags": [
                {"Key": k, "Value": v}
                for k, v in tags_to_dict(properties.get("Tags")).items()
            ],
        }
        backend = rds_backends[account_id][region]
        arguments = {
            key: value for key, value in arguments.items() if value is not None
        }
        database = backend.create_db_instance(arguments)
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


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)
