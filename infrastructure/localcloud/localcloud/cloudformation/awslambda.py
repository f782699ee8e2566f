"""`AWS::Lambda::Function` and `AWS::Lambda::LayerVersion`, complete enough for SAM.

moto's Function model drops Layers, DeadLetterConfig, Architectures, Tags and
more at creation, and its LayerVersion has no Ref (the ARN), so a function
cannot name its layer. Here a function is created with every property moto's
CreateFunction understands, and updated the way UpdateFunctionConfiguration and
UpdateFunctionCode do it (through moto's backend), which is what the Lambda
data plane watches: new code or settings start new workers, as after
`aws lambda update-function-code`. A changed FunctionName replaces the function.

Code comes from `S3Bucket`/`S3Key` (as after `sam package`) or inline
`ZipFile` source (written to index.py, as AWS does). Ref of a function is its
name, Fn::GetAtt Arn its ARN; Ref of a layer version is its ARN.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend

from localcloud.awslambda.functions import DEAD_LETTER_ATTRIBUTE

from .base import LocalResource, tags_to_dict
from .exceptions import TemplateError

logger = logging.getLogger(__name__)

_CONFIGURATION = (
    "Description",
    "Handler",
    "MemorySize",
    "Role",
    "Runtime",
    "Timeout",
    "VpcConfig",
    "Environment",
    "Layers",
    "Architectures",
    "TracingConfig",
    "EphemeralStorage",
    "KmsKeyArn",
    "PackageType",
    "ImageConfig",
    "ReservedConcurrentExecutions",
)


class Function(LocalResource):
    TYPE = "AWS::Lambda::Function"
    NAME_PROPERTY = "FunctionName"
    ATTRIBUTES = frozenset({"Arn"})

    @classmethod
    def create(
        cls,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> Any:
        spec: dict[str, Any] = {
            key: properties[key] for key in _CONFIGURATION if key in properties
        }
        spec["FunctionName"] = name
        spec["Code"] = _code(properties, logical_id)
        spec["Tags"] = tags_to_dict(properties.get("Tags"))
        function = get_backend(account_id, region).create_function(spec)
        _set_dead_letter(function, properties)
        return function

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
        wanted = properties.get("FunctionName")
        if wanted and wanted != original.function_name:
            return super().update(
                original, name, logical_id, properties, account_id, region
            )

        backend: Any = get_backend(account_id, region)
        function_name = original.function_name
        configuration = {
            key: properties[key]
            for key in _CONFIGURATION
            if key in properties and key != "ReservedConcurrentExecutions"
        }
        # Properties removed from the template go back to their defaults.
        configuration.setdefault("Environment", {"Variables": {}})
        configuration.setdefault("Layers", [])
        configuration.setdefault("Description", "")
        backend.update_function_configuration(function_name, None, configuration)

        code = _code(properties, logical_id)
        if code.get("ZipFile") or code.get("S3Key"):
            backend.update_function_code(function_name, None, code)

        reserved = properties.get("ReservedConcurrentExecutions")
        if reserved is not None:
            backend.put_function_concurrency(function_name, str(reserved))
        elif original.reserved_concurrency is not None:
            backend.delete_function_concurrency(function_name)
        _set_dead_letter(original, properties)
        return original


def _code(properties: dict[str, Any], logical_id: str) -> dict[str, Any]:
    code: dict[str, Any] = dict(properties.get("Code") or {})
    if "ZipFile" in code:
        archive = LambdaFunction._create_zipfile_from_plaintext_code(
            str(code["ZipFile"])
        )
        return {"ZipFile": base64.b64encode(archive)}
    if "S3Bucket" in code and "S3Key" in code:
        return {
            key: code[key]
            for key in ("S3Bucket", "S3Key", "S3ObjectVersion")
            if key in code
        }
    if "ImageUri" in code:
        raise TemplateError(
            f"{logical_id}: container image functions (Code.ImageUri) cannot run "
            "in the local cloud; package the function as a zip"
        )
    raise TemplateError(
        f"{logical_id}: Code needs S3Bucket and S3Key (run `sam package` or "
        "`aws cloudformation package` first) or inline ZipFile source"
    )


def _set_dead_letter(function: Any, properties: dict[str, Any]) -> None:
    """Where the Lambda data plane reads a function's dead-letter target (moto
    drops DeadLetterConfig)."""
    target = (properties.get("DeadLetterConfig") or {}).get("TargetArn")
    setattr(function, DEAD_LETTER_ATTRIBUTE, target or None)


class LayerVersion(LocalResource):
    TYPE = "AWS::Lambda::LayerVersion"
    NAME_PROPERTY = "LayerName"

    @classmethod
    def create(
        cls,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> LayerVersion:
        content = properties.get("Content") or {}
        if not ("S3Bucket" in content and "S3Key" in content):
            raise TemplateError(
                f"{logical_id}: a layer's Content needs S3Bucket and S3Key (run "
                "`sam package` or `aws cloudformation package` first)"
            )
        spec = {"LayerName": properties.get("LayerName") or name, "Content": content}
        for key in ("Description", "CompatibleRuntimes", "CompatibleArchitectures"):
            if key in properties:
                spec[key] = properties[key]
        if "LicenseInfo" in properties:
            spec["LicenseInfo"] = properties["LicenseInfo"]
        layer_version = get_backend(account_id, region).publish_layer_version(spec)
        return cls(layer_version.arn, properties, account_id, region)

    def remove(self) -> None:
        name, version = self.physical_resource_id.rsplit(":", 2)[-2:]
        backend = get_backend(self.account_id, self.region)
        if backend.layers_versions_by_arn(self.physical_resource_id) is not None:
            backend.delete_layer_version(name, version)


class Version(LocalResource):
    """`AWS::Lambda::Version`: moto's gives no Ref (the version's ARN) and no
    Fn::GetAtt Version, which SAM's AutoPublishAlias relies on."""

    TYPE = "AWS::Lambda::Version"
    ATTRIBUTES = frozenset({"Version", "FunctionArn"})

    @classmethod
    def create(
        cls,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> Version:
        backend: Any = get_backend(account_id, region)
        function_name = str(properties.get("FunctionName", ""))
        published = backend.publish_version(
            function_name, description=properties.get("Description", "")
        )
        if published is None:
            raise TemplateError(
                f"{logical_id}: function {function_name!r} has no code to publish"
            )
        version = str(published.version)
        arn = (
            f"arn:aws:lambda:{region}:{account_id}:function:"
            f"{published.function_name}:{version}"
        )
        return cls(
            arn,
            properties,
            account_id,
            region,
            {"Version": version, "FunctionArn": arn},
        )

    def remove(self) -> None:
        """Published versions stay, as CloudFormation retains them by default."""


class Alias(LocalResource):
    TYPE = "AWS::Lambda::Alias"
    ATTRIBUTES = frozenset({"AliasArn"})

    @classmethod
    def create(
        cls,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> Alias:
        backend: Any = get_backend(account_id, region)
        alias = backend.create_alias(
            name=str(properties["Name"]),
            function_name=str(properties["FunctionName"]),
            function_version=str(properties.get("FunctionVersion", "$LATEST")),
            description=properties.get("Description", ""),
            routing_config=properties.get("RoutingConfig"),
        )
        return cls(alias.arn, properties, account_id, region, {"AliasArn": alias.arn})

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
        if (properties.get("Name"), properties.get("FunctionName")) != (
            before.get("Name"),
            before.get("FunctionName"),
        ):
            return super().update(
                original, name, logical_id, properties, account_id, region
            )
        backend: Any = get_backend(account_id, region)
        backend.update_alias(
            name=str(properties["Name"]),
            function_name=str(properties["FunctionName"]),
            function_version=str(properties.get("FunctionVersion", "$LATEST")),
            description=properties.get("Description", ""),
            routing_config=properties.get("RoutingConfig"),
        )
        original.properties = properties
        return original

    def remove(self) -> None:
        backend: Any = get_backend(self.account_id, self.region)
        backend.delete_alias(
            str(self.properties["Name"]), str(self.properties["FunctionName"])
        )
