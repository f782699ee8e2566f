"""IoT Core for the local cloud: topic rules run against the MQTT broker.

moto stores topic rules (IoT API, AWS CLI, CloudFormation); the `RulesEngine`
subscribes to Mosquitto for each enabled rule's topic filter, evaluates the
rule's SQL and runs its actions. The edge also serves `iot-data` `Publish`
(to Mosquitto), `DescribeEndpoint` (the broker's address) and refuses rules
whose SQL the engine cannot run. See docs/iot.md.

Public surface: `install(cloud)`; `compile_sql(sql)` for anything else that
must validate rule SQL (it raises `SqlParseError` quoting the bad part).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.iot.engine import RulesEngine
from localcloud.iot.errors import IotError, RuleEvaluationError, SqlParseError
from localcloud.iot.routes import (
    DescribeEndpointRoute,
    IotDataPublishRoute,
    TopicRuleRoute,
)
from localcloud.iot.settings import IotSettings
from localcloud.iot.sql import Statement, compile_sql

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.http import HttpRequest, HttpResponse

__all__ = [
    "IotError",
    "IotSettings",
    "RuleEvaluationError",
    "RulesEngine",
    "SqlParseError",
    "Statement",
    "compile_sql",
    "install",
]


def install(cloud: LocalCloud) -> None:
    """Mounts the IoT routes and registers the rules engine with the cloud."""
    settings = IotSettings.from_cloud_config(cloud.config)
    engine = RulesEngine(settings, invoker=cloud.invoker)

    def refresh(request: HttpRequest, response: HttpResponse) -> None:
        engine.refresh()

    cloud.add_route(TopicRuleRoute(engine, cloud.moto, cloud.config.account_id))
    cloud.add_route(IotDataPublishRoute(engine))
    cloud.add_route(DescribeEndpointRoute(settings.broker_address))
    cloud.add_service(engine)
    cloud.add_aws_listener("iot", refresh)
    cloud.add_aws_listener("cloudformation", refresh)
