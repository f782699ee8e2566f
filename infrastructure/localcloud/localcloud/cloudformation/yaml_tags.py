"""YAML short-form intrinsics (`!Ref`, `!GetAtt`, `!Sub`, ...) read like AWS reads them.

moto's reader splits `!GetAtt Database.Endpoint.Address` at every dot (AWS
splits at the first: resource `Database`, attribute `Endpoint.Address`) and
hands back raw YAML nodes for the list form `!GetAtt [Database, Arn]` and for
mapping arguments. This reader builds plain values for every form.
"""

from __future__ import annotations

from typing import Any

import yaml  # type: ignore[import-untyped]


def yaml_tag_constructor(loader: Any, tag: str, node: Any) -> dict[str, Any]:
    key = "Ref" if tag == "!Ref" else f"Fn::{tag[1:]}"
    if isinstance(node, yaml.SequenceNode):
        return {key: loader.construct_sequence(node, deep=True)}
    if isinstance(node, yaml.MappingNode):
        return {key: loader.construct_mapping(node, deep=True)}
    value = loader.construct_scalar(node)
    if tag == "!GetAtt":
        resource, _, attribute = str(value).partition(".")
        return {key: [resource, attribute]}
    return {key: value}
