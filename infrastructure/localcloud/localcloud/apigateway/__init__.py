"""API Gateway REST APIs (v1): the execute-api data plane.

moto answers the control plane (CreateRestApi, PutIntegration, CreateDeployment,
...), except ImportRestApi/PutRestApi and binary media types, which this package
mends (see `control`); it serves the deployed stages: requests are matched to
resources like API Gateway does, turned into Lambda proxy events, and the
function's response is mapped back. See docs/apigateway.md for the routes, the
supported integrations and the differences from AWS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .control import RestApiControlRoute
from .gateway import ExecuteApiRoute
from .urls import ExecuteApiTarget, execute_api_url, localize_stage_url, parse_target

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

__all__ = [
    "ExecuteApiRoute",
    "ExecuteApiTarget",
    "RestApiControlRoute",
    "execute_api_url",
    "install",
    "localize_stage_url",
    "parse_target",
]


def install(cloud: LocalCloud) -> None:
    """Mounts the execute-api routes, and the control-plane calls moto lacks."""
    config = cloud.config
    cloud.add_route(RestApiControlRoute(cloud, config.account_id, config.region))
    cloud.add_route(
        ExecuteApiRoute(
            cloud.invoker,
            port=cloud.config.port,
            account_id=cloud.config.account_id,
        )
    )
