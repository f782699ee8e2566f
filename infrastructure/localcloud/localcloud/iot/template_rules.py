"""Topic rules read from a CloudFormation template instead of from moto.

The standalone rules engine (`standalone.py`) runs where IoT Core is missing
(LocalStack community): the stack is deployed with `CreateIotRule=false`, and
the `AWS::IoT::TopicRule` resources of the same template are read here and
turned into the `StoredRule`s the engine's `RuleCatalog` compiles, so the rule
that runs is the one in the template, not a copy.

References in a rule are resolved the way CloudFormation would for the
deployed stack: parameters and physical ids (a queue's `Ref` is its URL) come
from the stack through the CloudFormation API; without a stack, parameters are
the template's defaults plus overrides, and a queue's `Ref` is looked up by its
`QueueName` through SQS. Supported: `Ref`, `Fn::Sub`, `Fn::GetAtt` (a queue's
`Arn` and `QueueName`), `Fn::If`, `Fn::Join` and the usual pseudo parameters.

Where it differs from IoT Core: the resource's own `Condition` is ignored (on
LocalStack it is false on purpose), and an action's `RoleArn` is dropped: the
engine sends with its own credentials, it assumes no role.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError

from localcloud.iot.errors import IotError
from localcloud.iot.rules import StoredRule

logger = logging.getLogger(__name__)

TOPIC_RULE = "AWS::IoT::TopicRule"
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")


class TemplateRuleError(IotError):
    """A template, a stack or a reference the standalone engine cannot use."""


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
    """YAML with CloudFormation's short-form tags (`!Ref`, `!Sub`, ...)."""


def _construct_tag(loader: Any, name: str, node: Any) -> dict[str, Any]:
    # `name` is the tag without its "!" (the multi-constructor's prefix).
    key = "Ref" if name == "Ref" else "Condition" if name == "Condition" else None
    key = key or f"Fn::{name}"
    if isinstance(node, yaml.SequenceNode):
        return {key: loader.construct_sequence(node, deep=True)}
    if isinstance(node, yaml.MappingNode):
        return {key: loader.construct_mapping(node, deep=True)}
    value = loader.construct_scalar(node)
    if name == "GetAtt":
        resource, _, attribute = str(value).partition(".")
        return {key: [resource, attribute]}
    return {key: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """The template as plain data; intrinsic tags become their long form."""
    try:
        document = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506
    except (OSError, yaml.YAMLError) as error:
        raise TemplateRuleError(
            f"cannot read the template {path}: {error}; pass --template with the "
            "path of template.yaml"
        ) from error
    if not isinstance(document, dict) or not isinstance(
        document.get("Resources"), dict
    ):
        raise TemplateRuleError(f"{path} is not a CloudFormation template")
    return document


@dataclass
class StackContext:
    """What references resolve against: one deployed stack, or none."""

    account_id: str
    region: str
    parameters: dict[str, str]
    physical_ids: dict[str, str] = field(default_factory=dict)
    stack_name: str = ""


class Resolver:
    """CloudFormation's intrinsic functions, for the values a rule uses."""

    def __init__(
        self, template: Mapping[str, Any], context: StackContext, sqs: Any
    ) -> None:
        self._resources: Mapping[str, Any] = template.get("Resources", {})
        self._conditions: Mapping[str, Any] = template.get("Conditions", {})
        self._context = context
        self._sqs = sqs
        self._urls: dict[str, str] = {}

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            if key == "Ref":
                return self._ref(str(argument))
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::GetAtt":
                return self._get_att(*_split_get_att(argument))
            if key == "Fn::If":
                name, when_true, when_false = argument
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Join":
                separator, items = argument
                return str(separator).join(str(i) for i in self.resolve(items))
        return {key: self.resolve(value) for key, value in node.items()}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            raise TemplateRuleError(f"the template has no condition {name!r}")
        return self._evaluate(self._conditions[name])

    def _evaluate(self, node: Any) -> bool:
        ((function, arguments),) = node.items()
        if function == "Condition":
            return self.condition(arguments)
        if function == "Fn::Equals":
            left, right = (str(self.resolve(a)) for a in arguments)
            return left == right
        if function == "Fn::Not":
            return not self._evaluate(arguments[0])
        if function == "Fn::And":
            return all(self._evaluate(argument) for argument in arguments)
        if function == "Fn::Or":
            return any(self._evaluate(argument) for argument in arguments)
        raise TemplateRuleError(f"condition function {function} is not supported")

    def _ref(self, name: str) -> str:
        context = self._context
        pseudo = {
            "AWS::Region": context.region,
            "AWS::AccountId": context.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": context.stack_name,
        }
        if name in pseudo:
            return pseudo[name]
        if name in context.parameters:
            return context.parameters[name]
        if name in context.physical_ids:
            return context.physical_ids[name]
        resource = self._resources.get(name)
        if resource is None:
            raise TemplateRuleError(f"Ref {name}: no such parameter or resource")
        if resource.get("Type") == "AWS::SQS::Queue":
            return self._queue_url(name, resource)
        raise TemplateRuleError(
            f"Ref {name}: a {resource.get('Type')} is only resolved from a deployed "
            "stack; pass --stack-name"
        )

    def _queue_url(self, logical_id: str, resource: Mapping[str, Any]) -> str:
        if logical_id in self._urls:
            return self._urls[logical_id]
        name = self.resolve(resource.get("Properties", {}).get("QueueName"))
        if not name:
            raise TemplateRuleError(
                f"queue {logical_id} has no QueueName; its URL is only known from a "
                "deployed stack: pass --stack-name"
            )
        try:
            url = str(self._sqs.get_queue_url(QueueName=name)["QueueUrl"])
        except (BotoCoreError, ClientError) as error:
            raise TemplateRuleError(
                f"queue {name} ({logical_id}) is not there yet: {error}"
            ) from error
        self._urls[logical_id] = url
        return url

    def _get_att(self, logical_id: str, attribute: str) -> str:
        resource = self._resources.get(logical_id, {})
        if resource.get("Type") != "AWS::SQS::Queue":
            raise TemplateRuleError(
                f"Fn::GetAtt {logical_id}.{attribute} is not supported here (only "
                "a queue's Arn and QueueName)"
            )
        url = self._ref(logical_id)
        if attribute == "QueueName":
            return url.rstrip("/").rsplit("/", 1)[-1]
        if attribute == "Arn":
            found = self._sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["QueueArn"]
            )
            return str(found["Attributes"]["QueueArn"])
        raise TemplateRuleError(f"Fn::GetAtt {logical_id}.{attribute} is unknown")

    def _sub(self, argument: Any) -> str:
        text, variables = (
            (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        )
        values = {name: self.resolve(value) for name, value in variables.items()}

        def replace(found: re.Match[str]) -> str:
            name = found.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            if "." in name and not name.startswith("AWS::"):
                return self._get_att(*name.split(".", 1))
            return self._ref(name)

        return _SUB_VARIABLE.sub(replace, str(text))


def _split_get_att(argument: Any) -> tuple[str, str]:
    if isinstance(argument, str):
        resource, _, attribute = argument.partition(".")
        return resource, attribute
    return str(argument[0]), str(argument[1])


def api_form(node: Any) -> Any:
    """CloudFormation's action shape (`Sqs: {QueueUrl}`) as the IoT API's
    (`sqs: {queueUrl}`), which the engine's action factory reads; keys only."""
    if isinstance(node, list):
        return [api_form(item) for item in node]
    if isinstance(node, dict):
        return {key[:1].lower() + key[1:]: api_form(v) for key, v in node.items()}
    return node


def _without_roles(node: Any) -> Any:
    if isinstance(node, list):
        return [_without_roles(item) for item in node]
    if isinstance(node, dict):
        return {k: _without_roles(v) for k, v in node.items() if k != "RoleArn"}
    return node


def stored_rules(
    template: Mapping[str, Any], resolver: Resolver, context: StackContext
) -> list[StoredRule]:
    """Every topic rule of the template, references resolved."""
    rules: list[StoredRule] = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != TOPIC_RULE:
            continue
        properties = _without_roles(resource.get("Properties", {}))
        resolved = resolver.resolve(properties)
        payload = resolved.get("TopicRulePayload", {})
        name = str(resolved.get("RuleName") or logical_id)
        rules.append(
            StoredRule(
                name=name,
                arn=f"arn:aws:iot:{context.region}:{context.account_id}:rule/{name}",
                account_id=context.account_id,
                region=context.region,
                sql=str(payload.get("Sql", "")),
                sql_version=payload.get("AwsIotSqlVersion"),
                actions=api_form(payload.get("Actions") or []),
                error_action=api_form(payload.get("ErrorAction") or {}),
                disabled=str(payload.get("RuleDisabled", False)).lower() == "true",
            )
        )
    return rules


def template_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: str(spec.get("Default"))
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }


class TemplateRules:
    """The engine's rule source: the template's rules, re-read every few seconds.

    Until the stack is deployed (or its queues exist) it returns no rule, so the
    engine subscribes to nothing yet; errors are logged once each, and the last
    rules read stay in force meanwhile.
    """

    def __init__(
        self,
        template_path: Path,
        *,
        cloudformation: Any,
        sqs: Any,
        region: str,
        account_id: str,
        stack_name: str | None = None,
        overrides: Mapping[str, str] | None = None,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = template_path
        self._cfn = cloudformation
        self._sqs = sqs
        self._region = region
        self._account_id = account_id
        self._stack_name = stack_name
        self._overrides = dict(overrides or {})
        self._interval = interval
        self._clock = clock
        self._checked_at: float | None = None
        self._rules: list[StoredRule] = []
        self._last_problem = ""

    @property
    def rules(self) -> list[StoredRule]:
        return list(self._rules)

    def __call__(self) -> list[StoredRule]:
        now = self._clock()
        if self._checked_at is not None and now - self._checked_at < self._interval:
            return self._rules
        self._checked_at = now
        try:
            self._rules = self.read()
        except TemplateRuleError as error:
            self._report(str(error))
        else:
            self._report("")
        return self._rules

    def read(self) -> list[StoredRule]:
        """Reads the template and resolves its rules now; raises on problems."""
        template = load_template(self._path)
        context = self._context(template)
        return stored_rules(template, Resolver(template, context, self._sqs), context)

    def _context(self, template: Mapping[str, Any]) -> StackContext:
        parameters = {**template_defaults(template), **self._overrides}
        if not self._stack_name:
            return StackContext(self._account_id, self._region, parameters)
        try:
            stacks = self._cfn.describe_stacks(StackName=self._stack_name)["Stacks"]
            status = str(stacks[0]["StackStatus"]) if stacks else "missing"
            if status not in _DONE:
                raise TemplateRuleError(
                    f"waiting for stack {self._stack_name} (now {status})"
                )
            found = self._cfn.describe_stack_resources(StackName=self._stack_name)
        except (BotoCoreError, ClientError) as error:
            raise TemplateRuleError(
                f"waiting for stack {self._stack_name} to be deployed ({error})"
            ) from error
        stack = stacks[0]
        for item in stack.get("Parameters", []):
            parameters[item["ParameterKey"]] = str(item.get("ParameterValue", ""))
        account_id = str(stack.get("StackId", "")).split(":")[4:5] or [""]
        return StackContext(
            account_id=account_id[0] or self._account_id,
            region=self._region,
            parameters=parameters,
            physical_ids={
                str(item["LogicalResourceId"]): str(item["PhysicalResourceId"])
                for item in found.get("StackResources", [])
                if item.get("LogicalResourceId") and item.get("PhysicalResourceId")
            },
            stack_name=self._stack_name,
        )

    def _report(self, problem: str) -> None:
        if problem == self._last_problem:
            return
        self._last_problem = problem
        if problem:
            logger.warning(
                "standalone rules engine: %s (%d rules in force)",
                problem,
                len(self._rules),
            )
        else:
            logger.info(
                "standalone rules engine: %d rules from %s: %s",
                len(self._rules),
                self._path,
                ", ".join(rule.name for rule in self._rules) or "none",
            )
