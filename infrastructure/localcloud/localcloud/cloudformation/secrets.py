"""`AWS::SecretsManager::Secret` and `AWS::SecretsManager::SecretTargetAttachment`,
which moto's CloudFormation lacks: generated database credentials.

Secret: `SecretString`, or `GenerateSecretString` with SecretStringTemplate +
GenerateStringKey (the password is added to the template's JSON under that
key), PasswordLength (32), ExcludeCharacters, ExcludeNumbers/Punctuation/
Uppercase/Lowercase, IncludeSpace, RequireEachIncludedType (true). Name,
Description, KmsKeyId, Tags. Ref is the secret's ARN, as on AWS. An update
keeps the generated value unless GenerateSecretString itself changed.

SecretTargetAttachment: adds `engine`, `host`, `port` and `dbInstanceIdentifier`
(or `dbClusterIdentifier`) of the target, read from moto's RDS backend, to the
secret's JSON as a new AWSCURRENT version, as AWS does. Ref is the secret's ARN.
The host and port are whatever the RDS instance reports when the attachment is
created, so the RDS data plane must set them when the instance is created.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from moto.rds.models import rds_backends
from moto.secretsmanager.models import secretsmanager_backends

from .base import LocalResource, as_bool, tags_to_dict
from .exceptions import TemplateError

logger = logging.getLogger(__name__)


class Secret(LocalResource):
    TYPE = "AWS::SecretsManager::Secret"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = frozenset({"Id"})

    @classmethod
    def create(
        cls,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> Secret:
        backend: Any = secretsmanager_backends[account_id][region]
        for ignored in ("ReplicaRegions",):
            if ignored in properties:
                logger.warning("secret %s: %s is not supported; ignored", name, ignored)
        backend.create_secret(
            name=name,
            secret_string=_secret_string(backend, name, properties),
            secret_binary=None,
            description=properties.get("Description"),
            tags=[
                {"Key": k, "Value": v}
                for k, v in tags_to_dict(properties.get("Tags")).items()
            ],
            kms_key_id=properties.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        arn: str = backend.describe_secret(name).arn
        return cls(arn, properties, account_id, region, {"Id": arn})

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
        if properties.get("Name") and properties.get("Name") != before.get("Name"):
            return super().update(
                original, name, logical_id, properties, account_id, region
            )
        backend: Any = secretsmanager_backends[account_id][region]
        arn = original.physical_resource_id
        changed_value = properties.get("SecretString") != before.get(
            "SecretString"
        ) or properties.get("GenerateSecretString") != before.get(
            "GenerateSecretString"
        )
        backend.update_secret(
            arn,
            secret_string=_secret_string(backend, arn, properties)
            if changed_value
            else None,
            description=properties.get("Description"),
            kms_key_id=properties.get("KmsKeyId"),
        )
        original.properties = properties
        return original

    def remove(self) -> None:
        backend: Any = secretsmanager_backends[self.account_id][self.region]
        if backend._is_valid_identifier(self.physical_resource_id):
            backend.delete_secret(
                self.physical_resource_id,
                recovery_window_in_days=None,
                force_delete_without_recovery=True,
            )


def _secret_string(backend: Any, name: str, properties: dict[str, Any]) -> str:
    if "SecretString" in properties and "GenerateSecretString" in properties:
        raise TemplateError(
            f"secret {name}: SecretString and GenerateSecretString are mutually "
            "exclusive; keep one of them"
        )
    if "SecretString" in properties:
        return str(properties["SecretString"])
    options: dict[str, Any] = properties.get("GenerateSecretString") or {}
    try:
        password = json.loads(
            backend.get_random_password(
                password_length=int(options.get("PasswordLength", 32)),
                exclude_characters=str(options.get("ExcludeCharacters", "")),
                exclude_numbers=as_bool(options.get("ExcludeNumbers")),
                exclude_punctuation=as_bool(options.get("ExcludePunctuation")),
                exclude_uppercase=as_bool(options.get("ExcludeUppercase")),
                exclude_lowercase=as_bool(options.get("ExcludeLowercase")),
                include_space=as_bool(options.get("IncludeSpace")),
                require_each_included_type=as_bool(
                    options.get("RequireEachIncludedType"), default=True
                ),
            )
        )["RandomPassword"]
    except (IndexError, ValueError) as error:
        raise TemplateError(
            f"secret {name}: no password can be generated with these "
            f"GenerateSecretString options ({error}); exclude fewer characters or "
            "set RequireEachIncludedType to false"
        ) from error
    template = options.get("SecretStringTemplate")
    key = options.get("GenerateStringKey")
    if template is None and key is None:
        return str(password)
    if template is None or key is None:
        raise TemplateError(
            f"secret {name}: GenerateSecretString needs both SecretStringTemplate "
            "and GenerateStringKey, or neither"
        )
    try:
        document = json.loads(template)
    except ValueError as error:
        raise TemplateError(
            f"secret {name}: SecretStringTemplate {template!r} is not JSON ({error})"
        ) from error
    if not isinstance(document, dict):
        raise TemplateError(
            f"secret {name}: SecretStringTemplate must be a JSON object"
        )
    document[key] = password
    return json.dumps(document)


class SecretTargetAttachment(LocalResource):
    TYPE = "AWS::SecretsManager::SecretTargetAttachment"

    @classmethod
    def create(
        cls,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> SecretTargetAttachment:
        secret_id = str(properties.get("SecretId", ""))
        backend: Any = secretsmanager_backends[account_id][region]
        if not backend._is_valid_identifier(secret_id):
            raise TemplateError(
                f"SecretTargetAttachment: secret {secret_id!r} does not exist; "
                "point SecretId at a secret of this stack"
            )
        current = backend.get_secret_value(secret_id, None, "AWSCURRENT")
        try:
            document = json.loads(current.get("SecretString") or "{}")
        except ValueError as error:
            raise TemplateError(
                f"SecretTargetAttachment: secret {secret_id} is not a JSON object; "
                "an attachment adds connection fields to the secret's JSON"
            ) from error
        document.update(_target_fields(properties, account_id, region))
        backend.put_secret_value(
            secret_id,
            secret_string=json.dumps(document),
            secret_binary=None,
            client_request_token=None,
            version_stages=["AWSCURRENT"],
        )
        arn: str = backend.describe_secret(secret_id).arn
        return cls(arn, properties, account_id, region)

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
        return cls.create(name, logical_id, properties, account_id, region)

    def remove(self) -> None:
        """Deleting an attachment leaves the secret's value as it is, as on AWS."""


def _target_fields(
    properties: dict[str, Any], account_id: str, region: str
) -> dict[str, Any]:
    target_id = str(properties.get("TargetId", ""))
    target_type = str(properties.get("TargetType", ""))
    backend: Any = rds_backends[account_id][region]
    if target_type in ("AWS::RDS::DBInstance", "AWS::DocDB::DBInstance"):
        instance = backend.databases.get(target_id)
        if instance is None:
            raise TemplateError(
                f"SecretTargetAttachment: DB instance {target_id!r} does not exist; "
                "TargetId must be a DBInstance of this stack (!Ref it)"
            )
        return {
            "engine": instance.engine,
            "host": instance.address,
            "port": int(instance.port),
            "dbInstanceIdentifier": instance.db_instance_identifier,
        }
    if target_type in ("AWS::RDS::DBCluster", "AWS::DocDB::DBCluster"):
        cluster = backend.clusters.get(target_id)
        if cluster is None:
            raise TemplateError(
                f"SecretTargetAttachment: DB cluster {target_id!r} does not exist"
            )
        return {
            "engine": cluster.engine,
            "host": cluster.endpoint,
            "port": int(cluster.port),
            "dbClusterIdentifier": cluster.db_cluster_identifier,
        }
    raise TemplateError(
        f"SecretTargetAttachment: TargetType {target_type!r} is not supported by the "
        "local cloud; use AWS::RDS::DBInstance or AWS::RDS::DBCluster"
    )
