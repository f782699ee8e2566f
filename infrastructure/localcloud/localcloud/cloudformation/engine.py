"""Where moto's CloudFormation engine is changed to behave like CloudFormation.

Each change wraps one moto function and is applied once, by `patch_engine()`:

- YAML short-form intrinsics are read like AWS reads them (see `yaml_tags`);
- templates with `Transform: AWS::Serverless-2016-10-31` are expanded when moto
  parses them for a stack (CreateStack, UpdateStack) or a change set, with the
  stack's parameters (see `sam`);
- dynamic references (`{{resolve:...}}`) are resolved when a resource's
  properties are resolved (see `dynamic_references`);
- output values that are AWS execute-api or S3 website URLs are given in their
  local form (`http://{api}.execute-api.localhost:{port}/...`), with an INFO
  log, so what the stack reports opens in a browser offline;
- updates run in CloudFormation's order (create new resources, update changed
  ones, then delete removed ones, keeping those with DeletionPolicy Retain)
  instead of moto's (delete first), so a renamed resource or a new API
  deployment exists before what it replaces is deleted;
- a resource type that moto cannot update is left as it was, with a warning,
  instead of vanishing from the stack (moto stores None for it);
- a change set that creates a stack leaves the stack with its outputs;
- a change set with nothing to change is created FAILED with CloudFormation's
  reason ("The submitted information didn't contain changes."), which
  `aws cloudformation deploy` reports as "No changes to deploy" (moto refused
  the request, and compared the expanded template with the submitted one);
- every resource has a physical id (moto leaves some without, such as
  DBSubnetGroup and Lambda Permission, which breaks DescribeStackResources).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.cloudformation import models, parsing, responses

from localcloud.apigateway.urls import localize_stage_url
from localcloud.s3website.website import localize_website_url

from . import sam
from .base import random_suffix
from .context import endpoints
from .dynamic_references import contains_reference, resolve_references
from .lifecycle import mark_failed, patch_lifecycle, reason_of, resource_event
from .yaml_tags import yaml_tag_constructor

logger = logging.getLogger(__name__)

_patched = False
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class _StackContext:
    parameters: dict[str, Any]
    region: str


# The parameters and region of the stack being built: moto's Stack.__init__
# parses the template before it stores them on the stack.
_building: contextvars.ContextVar[_StackContext | None] = contextvars.ContextVar(
    "localcloud_stack_context", default=None
)


def patch_engine() -> None:
    global _patched
    with _lock:
        if _patched:
            return
        _patch_templates()
        _patch_resolution()
        _patch_updates()
        _patch_outputs()
        _patch_creation()
        patch_lifecycle()
        _patched = True


# --- SAM expansion -------------------------------------------------------------


def _patch_templates() -> None:
    models.yaml_tag_constructor = yaml_tag_constructor  # type: ignore[attr-defined]
    stack_init = models.Stack.__init__
    signature = inspect.signature(stack_init)

    @functools.wraps(stack_init)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs).arguments
        context = _StackContext(
            dict(bound.get("parameters") or {}), bound["region_name"]
        )
        token = _building.set(context)
        try:
            stack_init(self, *args, **kwargs)
        finally:
            _building.reset(token)

    stack_parse = models.Stack._parse_template

    @functools.wraps(stack_parse)
    def parse_stack_template(self: Any) -> None:
        stack_parse(self)
        context = _building.get() or _StackContext(
            dict(getattr(self, "parameters", None) or {}), self.region_name
        )
        self.template_dict = sam.expand(
            self.template_dict,
            account_id=self.account_id,
            region=context.region,
            stack_name=self.name,
            parameters=context.parameters,
        )

    stack_update = models.Stack.update

    @functools.wraps(stack_update)
    def update(self: Any, template: str, *args: Any, **kwargs: Any) -> None:
        bound = inspect.signature(stack_update).bind(self, template, *args, **kwargs)
        parameters = bound.arguments.get("parameters") or self.parameters
        token = _building.set(_StackContext(dict(parameters), self.region_name))
        try:
            stack_update(self, template, *args, **kwargs)
        finally:
            _building.reset(token)

    change_set_parse = models.ChangeSet._parse_template

    @functools.wraps(change_set_parse)
    def parse_change_set_template(self: Any) -> None:
        change_set_parse(self)
        stack = self.stack
        parameters = dict(stack.parameters or {})
        parameters.update(self.parameters or {})
        self.template_dict = sam.expand(
            self.template_dict,
            account_id=stack.account_id,
            region=stack.region_name,
            stack_name=stack.name,
            parameters=parameters,
        )

    execute = models.CloudFormationBackend.execute_change_set

    @functools.wraps(execute)
    def execute_change_set(
        self: Any, change_set_name: str, stack_name: str | None = None
    ) -> None:
        execute(self, change_set_name, stack_name)
        change_set = self.describe_change_set(change_set_name)
        stack = change_set.stack
        stack.template_dict = change_set.template_dict
        stack.parameters = {**(stack.parameters or {}), **(change_set.parameters or {})}
        stack.description = stack.template_dict.get("Description")
        stack.output_map = stack._create_output_map()

    def has_template(self: Any, other_template: str) -> bool:
        if self.template == other_template:
            return True
        same: bool = models.Stack.parse_template(self.template) == (
            models.Stack.parse_template(other_template)
        )
        return same

    def has_parameters(self: Any, other_parameters: dict[str, Any]) -> bool:
        # A parameter left out means its default; moto compared the submitted
        # values with the ones first given, so an unchanged redeploy that lists
        # previous values (as the AWS CLI does) looked like a change.
        declared: dict[str, Any] = self.template_dict.get("Parameters") or {}
        current = self.resource_map.resolved_parameters
        return all(
            _parameter_text(current.get(name))
            == _parameter_text(other_parameters.get(name, spec.get("Default")))
            for name, spec in declared.items()
        )

    validate_update = responses.CloudFormationResponse._validate_different_update

    @functools.wraps(validate_update)
    def validate_different_update(self: Any, *args: Any, **kwargs: Any) -> None:
        if self._get_action() != "CreateChangeSet":
            validate_update(self, *args, **kwargs)

    responses.CloudFormationResponse._validate_different_update = (  # type: ignore[method-assign]
        validate_different_update
    )
    models.Stack.has_template = has_template  # type: ignore[method-assign]
    models.Stack.has_parameters = has_parameters  # type: ignore[method-assign]
    models.Stack.__init__ = init  # type: ignore[method-assign]
    models.Stack._parse_template = parse_stack_template  # type: ignore[method-assign]
    models.Stack.update = update  # type: ignore[method-assign]
    models.ChangeSet._parse_template = parse_change_set_template  # type: ignore[method-assign]
    models.CloudFormationBackend.execute_change_set = execute_change_set  # type: ignore[method-assign]


def _parameter_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return "" if value is None else str(value)


# --- dynamic references ----------------------------------------------------------


def _patch_resolution() -> None:
    clean_json: Callable[[Any, Any], Any] = parsing.clean_json

    @functools.wraps(clean_json)
    def resolving_clean_json(resource_json: Any, resources_map: Any) -> Any:
        result = clean_json(resource_json, resources_map)
        # A reference inside Fn::Sub is resolved once the Sub has produced the
        # final string (an inner call still sees "${Secret}").
        if (
            isinstance(result, str)
            and contains_reference(result)
            and "${" not in result
        ):
            return resolve_references(
                result, resources_map._account_id, resources_map._region_name
            )
        return result

    parsing.clean_json = resolving_clean_json


# --- updates ---------------------------------------------------------------------


def _patch_updates() -> None:
    update_resource: Callable[..., Any] = parsing.parse_and_update_resource

    @functools.wraps(update_resource)
    def parse_and_update_resource(
        logical_id: str,
        resource_json: dict[str, Any],
        resources_map: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        kind = resource_json.get("Type", "")
        model = parsing.resource_class_from_type(kind)
        if model is not None and hasattr(
            model.update_from_cloudformation_json, "__isabstractmethod__"
        ):
            logger.warning(
                "CloudFormation: %s (%s) changed, but the local cloud cannot update "
                "this resource type; it keeps its previous properties",
                logical_id,
                kind,
            )
            return resources_map._parsed_resources.get(logical_id)
        return update_resource(
            logical_id, resource_json, resources_map, account_id, region_name
        )

    parsing.parse_and_update_resource = parse_and_update_resource
    parsing.ResourceMap.update = _update_in_cloudformation_order  # type: ignore[method-assign]


def _update_in_cloudformation_order(
    self: Any, template: dict[str, Any], parameters: dict[str, Any] | None = None
) -> None:
    actions = self.build_resource_diff(template, parameters)
    previous = self._resource_json_map

    self._template = template
    if parameters:
        self.input_parameters = parameters
    self.load_mapping()
    self.load_parameters()
    self.load_conditions()
    self._resource_json_map = template["Resources"]

    for logical_id in actions["Add"]:
        _ = self[logical_id]  # the lazy map creates it (and what it references)

    pending = list(actions["Modify"])
    for _attempt in range(parsing.MAX_UPDATE_ATTEMPTS):
        failed: list[tuple[str, Exception]] = []
        for logical_id in pending:
            definition = self._resource_json_map[logical_id]
            try:
                changed = parsing.parse_and_update_resource(
                    logical_id,
                    definition,
                    self,
                    account_id=self._account_id,
                    region_name=self._region_name,
                )
            except Exception as error:  # retried: it may wait for another update
                failed.append((logical_id, error))
            else:
                if changed is not None:
                    self._parsed_resources[logical_id] = changed
                resource_event(
                    self,
                    logical_id,
                    str(definition.get("Type", "")),
                    "UPDATE_COMPLETE",
                    physical_id=str(getattr(changed, "physical_resource_id", "") or ""),
                )
        pending = [logical_id for logical_id, _ in failed]
        if not failed:
            break
    else:
        failed_id, failure = failed[0]
        if mark_failed(failure, failed_id):
            resource_event(
                self,
                failed_id,
                str(self._resource_json_map[failed_id].get("Type", "")),
                "UPDATE_FAILED",
                reason=f"Resource handler returned message: {reason_of(failure)}",
            )
        raise failure

    for logical_id in actions["Remove"]:
        resource = self._parsed_resources.pop(logical_id, None)
        definition = previous.get(logical_id) or {}
        if resource is None or definition.get("DeletionPolicy") == "Retain":
            continue
        try:
            self._delete_resource(resource, definition)
        except Exception as error:
            mark_failed(error, logical_id)
            raise
        resource_event(
            self, logical_id, str(definition.get("Type", "")), "DELETE_COMPLETE"
        )


# --- creation ----------------------------------------------------------------------


def _patch_creation() -> None:
    create_resource: Callable[..., Any] = parsing.parse_and_create_resource

    @functools.wraps(create_resource)
    def parse_and_create_resource(
        logical_id: str,
        resource_json: dict[str, Any],
        resources_map: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        resource = create_resource(
            logical_id, resource_json, resources_map, account_id, region_name
        )
        if resource is not None and not hasattr(resource, "physical_resource_id"):
            name = getattr(resource, "name", None)
            stack_name = resources_map["AWS::StackName"]
            resource.physical_resource_id = (
                name
                if isinstance(name, str)
                else f"{stack_name}-{logical_id}-{random_suffix()}"
            )
        return resource

    parsing.parse_and_create_resource = parse_and_create_resource


# --- outputs -----------------------------------------------------------------------


def _patch_outputs() -> None:
    parse_output: Callable[..., Any] = parsing.parse_output

    @functools.wraps(parse_output)
    def localized_output(logical_id: str, output_json: Any, resources_map: Any) -> Any:
        output = parse_output(logical_id, output_json, resources_map)
        if output is not None and isinstance(output.value, str):
            port = endpoints().port
            local = localize_stage_url(output.value, port) or localize_website_url(
                output.value, port
            )
            if local is not None and local != output.value:
                logger.info(
                    "output %s: %s is served at %s", logical_id, output.value, local
                )
                output.value = local
        return output

    parsing.parse_output = localized_output  # type: ignore[assignment]
