"""The shape of a resource type the local cloud adds to moto's CloudFormation.

moto keeps, for each logical resource of a stack, the object a model's
`create_from_cloudformation_json` returned; it asks that object for
`physical_resource_id` (what `Ref` returns), `get_cfn_attribute` (what
`Fn::GetAtt` returns) and calls its `delete(account_id, region)` when the
stack or the resource goes away. `LocalResource` is such an object, recording
the properties it was made from; subclasses implement `create`, `update` (the
default replaces the resource, as CloudFormation does for immutable
properties) and `delete`, always through moto's backends, so the resource is
the same as one made through the service's API.
"""

from __future__ import annotations

import logging
import secrets
import string
from typing import Any, ClassVar

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel

logger = logging.getLogger(__name__)


class LocalResource(CloudFormationModel):
    TYPE: ClassVar[str] = "LocalCloud::Base::Resource"
    NAME_PROPERTY: ClassVar[str] = ""
    ATTRIBUTES: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        physical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        self._physical_id = physical_id
        self.properties = properties
        self.account_id = account_id
        self.region = region
        self.attributes = attributes or {}

    # --- what moto's engine calls ----------------------------------------------

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name in self.attributes:
            return self.attributes[attribute_name]
        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    def delete(self, account_id: str, region_name: str) -> None:
        self.remove()

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties: dict[str, Any] = cloudformation_json.get("Properties") or {}
        logical_id = str(kwargs.get("LogicalId", resource_name))
        return cls.create(
            resource_name, logical_id, properties, account_id, region_name
        )

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        properties: dict[str, Any] = cloudformation_json.get("Properties") or {}
        logical_id = str(getattr(original_resource, "logical_resource_id", ""))
        return cls.update(
            original_resource,
            new_resource_name,
            logical_id,
            properties,
            account_id,
            region_name,
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        logger.debug("%s %s has no state to delete", cls.TYPE, resource_name)

    # --- what subclasses implement ---------------------------------------------

    @classmethod
    def create(
        cls,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> Any:
        raise NotImplementedError

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
        """Replacement: the new resource first, then the old one goes."""
        replacement = cls.create(name, logical_id, properties, account_id, region)
        original.delete(account_id, region)
        return replacement

    def remove(self) -> None:
        raise NotImplementedError


def tags_to_dict(tags: Any) -> dict[str, str]:
    """CloudFormation's `[{Key, Value}]` tag lists (or a map) as a dict."""
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    if isinstance(tags, list):
        return {str(t["Key"]): str(t.get("Value", "")) for t in tags if "Key" in t}
    return {}


def random_suffix(length: int = 12) -> str:
    """Like the suffixes CloudFormation appends to names it generates."""
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def as_bool(value: Any, default: bool = False) -> bool:
    """Template booleans arrive as bools or as "true"/"false" strings."""
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)
