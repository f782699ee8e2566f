"""Registering resource types with moto's CloudFormation engine.

moto finds a type's model through `get_model_map()`, built once from the
direct subclasses of `CloudFormationModel`. The local cloud's models are
looked up first instead, through wrappers around moto's three lookup
functions, so a type moto lacks is added and a type moto handles partly
(S3 buckets, Lambda functions, REST APIs, ...) is replaced, whatever order
modules were imported in.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.cloudformation import parsing

_models: dict[str, type[Any]] = {}
_lock = threading.Lock()
_installed = False


def register(models: Iterable[type[Any]]) -> None:
    """Makes moto's engine use `models` for their `cloudformation_type()`."""
    with _lock:
        for model in models:
            _models[model.cloudformation_type()] = model
        _install_lookups()


def registered_types() -> list[str]:
    return sorted(_models)


def _install_lookups() -> None:
    global _installed
    if _installed:
        return
    parsing.get_model_map = _ours_first(  # type: ignore[assignment]
        parsing.get_model_map, lambda m: m
    )
    parsing.get_name_type_map = _ours_first(  # type: ignore[assignment]
        parsing.get_name_type_map, lambda m: m.cloudformation_name_type()
    )
    original_list = parsing.get_model_list

    @functools.wraps(original_list)
    def get_model_list() -> list[type[Any]]:
        ours = set(_models.values())
        replaced = set(_models)
        kept = [m for m in original_list() if m.cloudformation_type() not in replaced]
        return [*ours, *kept]

    parsing.get_model_list = get_model_list  # type: ignore[assignment]
    _installed = True


def _ours_first(
    original: Callable[[], dict[str, Any]], value: Callable[[type[Any]], Any]
) -> Callable[[], dict[str, Any]]:
    @functools.wraps(original)
    def lookup() -> dict[str, Any]:
        merged = dict(original())
        merged.update({kind: value(model) for kind, model in _models.items()})
        return merged

    return lookup
