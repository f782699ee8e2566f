"""`AWS::IoT::TopicRule`, which moto's CloudFormation lacks.

The rule is created in moto's IoT backend (`create_topic_rule`), exactly as the
CreateTopicRule API would store it: the template's `TopicRulePayload` uses
CloudFormation's PascalCase (`Sqs: {QueueUrl, RoleArn}`), the API and moto's
`FakeRule.actions` use camelCase (`sqs: {queueUrl, roleArn}`), so the payload
is converted. Whoever reads rules (the IoT rules engine) sees one shape.

Properties: RuleName (generated as `{LogicalId}_{random}` when absent, as rule
names allow only letters, digits and underscores), TopicRulePayload (Sql,
Actions, ErrorAction, RuleDisabled, AwsIotSqlVersion, Description). Tags are
not kept. Ref is the rule name; Fn::GetAtt Arn is its ARN. The SQL is checked
with the rules engine's compiler first, so SQL the engine cannot run fails the
resource with the engine's message, as CreateTopicRule would refuse it.
"""

from __future__ import annotations

from typing import Any

from moto.iot.models import iot_backends

from .base import LocalResource, as_bool, random_suffix
from .exceptions import TemplateError

# Maps whose keys are the user's own, not CloudFormation property names.
_VERBATIM = frozenset({"ClientProperties"})


def api_shape(value: Any) -> Any:
    """A CloudFormation rule action as the IoT API spells it."""
    if isinstance(value, list):
        return [api_shape(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key[:1].lower() + key[1:]: (item if key in _VERBATIM else api_shape(item))
        for key, item in value.items()
    }


class TopicRule(LocalResource):
    TYPE = "AWS::IoT::TopicRule"
    NAME_PROPERTY = "RuleName"
    ATTRIBUTES = frozenset({"Arn"})

    @classmethod
    def create(
        cls,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> TopicRule:
        rule_name = properties.get("RuleName") or f"{logical_id}_{random_suffix()}"
        _check_sql(rule_name, properties)
        backend = iot_backends[account_id][region]
        backend.create_topic_rule(rule_name, **_rule_arguments(properties))
        rule = backend.rules[rule_name]
        return cls(rule_name, properties, account_id, region, {"Arn": rule.arn})

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
        wanted = properties.get("RuleName")
        if wanted and wanted != original.physical_resource_id:
            return super().update(
                original, name, logical_id, properties, account_id, region
            )
        _check_sql(original.physical_resource_id, properties)
        backend = iot_backends[account_id][region]
        backend.replace_topic_rule(
            original.physical_resource_id, **_rule_arguments(properties)
        )
        original.properties = properties
        return original

    def remove(self) -> None:
        backend = iot_backends[self.account_id][self.region]
        if self.physical_resource_id in backend.rules:
            backend.delete_topic_rule(self.physical_resource_id)


def _check_sql(rule_name: str, properties: dict[str, Any]) -> None:
    from localcloud.iot import SqlParseError, compile_sql

    sql = str((properties.get("TopicRulePayload") or {}).get("Sql", ""))
    try:
        compile_sql(sql)
    except SqlParseError as error:
        raise TemplateError(f"topic rule {rule_name}: {error}") from error


def _rule_arguments(properties: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = properties.get("TopicRulePayload") or {}
    return {
        "sql": payload.get("Sql", ""),
        "description": payload.get("Description", ""),
        "rule_disabled": as_bool(payload.get("RuleDisabled")),
        "actions": api_shape(payload.get("Actions") or []),
        "error_action": api_shape(payload.get("ErrorAction") or {}),
        "aws_iot_sql_version": payload.get("AwsIotSqlVersion") or "2016-03-23",
    }
