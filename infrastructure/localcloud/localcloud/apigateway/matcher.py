"""Matching a request path and method to a REST API resource, like API Gateway.

API Gateway picks the most specific resource: at each path segment a literal
part beats a `{param}` part, which beats a greedy `{proxy+}`; a greedy part takes
one or more remaining segments, never zero (so `/{proxy+}` does not serve `/`).
Only then is the method looked up (a method defined on the resource beats its
`ANY`): a resource that matches the path but lacks the method is a 403, even if
a greedy resource elsewhere would take the method, as on AWS.

The tree is built from moto's resources (id, parent id, path part) and rebuilt
whenever they change, so resources created through any API are served at once.
Where AWS serves the snapshot taken at the stage's deployment, the local cloud
serves the resources as they are now; the docs list this difference.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote


@dataclass(slots=True)
class _Node:
    resource: Any = None  # moto's apigateway Resource
    template: str = "/"  # the resource path, e.g. /users/{id}
    literals: dict[str, _Node] = field(default_factory=dict)
    param: tuple[str, _Node] | None = None
    greedy: tuple[str, _Node] | None = None


@dataclass(frozen=True, slots=True)
class RouteMatch:
    resource: Any  # moto's apigateway Resource
    method: Any  # moto's apigateway Method
    resource_path: str
    path_parameters: dict[str, str]


_Fingerprint = tuple[tuple[str, str | None, str], ...]


class ResourceMatcher:
    """Finds the resource and method serving a request, caching one tree per API."""

    def __init__(self) -> None:
        self._trees: dict[str, tuple[_Fingerprint, _Node]] = {}
        self._lock = threading.Lock()

    def match(self, api: Any, http_method: str, raw_path: str) -> RouteMatch | None:
        root = self._tree(api)
        segments = [part for part in raw_path.split("/") if part]
        trailing = raw_path.endswith("/") and len(raw_path) > 1
        for node, params in _candidates(root, segments, 0, {}, trailing):
            method = _method_of(node.resource, http_method)
            if method is None:
                return None
            return RouteMatch(node.resource, method, node.template, params)
        return None

    def _tree(self, api: Any) -> _Node:
        # list() copies the dict in one step under the GIL, so a resource
        # created meanwhile by another thread cannot break the iteration.
        resources = list(api.resources.items())
        fingerprint = tuple(
            (rid, resource.parent_id, resource.path_part) for rid, resource in resources
        )
        cached = self._trees.get(api.id)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        root = _build(dict(resources))
        with self._lock:
            self._trees[api.id] = (fingerprint, root)
        return root


def _method_of(resource: Any, http_method: str) -> Any:
    methods = resource.resource_methods
    return methods.get(http_method) or methods.get("ANY")


def _build(resources: dict[str, Any]) -> _Node:
    children: dict[str | None, list[Any]] = {}
    for resource in resources.values():
        children.setdefault(resource.parent_id, []).append(resource)

    root = _Node()
    roots = children.get(None, [])
    if roots:
        root.resource = roots[0]
        _attach(root, roots[0].id, children)
    return root


def _attach(
    node: _Node, resource_id: str, children: dict[str | None, list[Any]]
) -> None:
    for child in children.get(resource_id, []):
        part: str = child.path_part
        prefix = "" if node.template == "/" else node.template
        child_node = _Node(resource=child, template=f"{prefix}/{part}")
        if part.startswith("{") and part.endswith("+}"):
            node.greedy = (part[1:-2], child_node)
        elif part.startswith("{") and part.endswith("}"):
            node.param = (part[1:-1], child_node)
        else:
            node.literals[part] = child_node
        _attach(child_node, child.id, children)


def _candidates(
    node: _Node,
    segments: list[str],
    index: int,
    params: dict[str, str],
    trailing: bool,
) -> Iterator[tuple[_Node, dict[str, str]]]:
    """Resources that can serve the path, most specific first."""
    if index == len(segments):
        if node.resource is not None:
            yield node, params
        return

    segment = segments[index]
    literal = node.literals.get(unquote(segment))
    if literal is not None:
        yield from _candidates(literal, segments, index + 1, params, trailing)
    if node.param is not None:
        name, child = node.param
        yield from _candidates(
            child, segments, index + 1, {**params, name: segment}, trailing
        )
    if node.greedy is not None:
        name, child = node.greedy
        rest = "/".join(segments[index:]) + ("/" if trailing else "")
        yield child, {**params, name: rest}
