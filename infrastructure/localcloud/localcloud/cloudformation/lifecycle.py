"""Stack events and failed deployments, reported the way CloudFormation does.

moto records only stack-level events, and lets a resource's failure escape
from CreateStack, UpdateStack or ExecuteChangeSet as an error response while
the stack stays CREATE_IN_PROGRESS forever. CloudFormation instead accepts the
request, then reports each resource (CREATE_IN_PROGRESS, CREATE_COMPLETE or
CREATE_FAILED with the reason) and ends the stack in a terminal state that
waiters, `aws cloudformation deploy` and `sam deploy` understand. Here:

- each resource created gets CREATE_IN_PROGRESS and CREATE_COMPLETE events, or
  CREATE_FAILED with the error's message;
- a failed creation rolls back: what was created is deleted and the stack ends
  ROLLBACK_COMPLETE;
- a failed update ends UPDATE_ROLLBACK_FAILED: the local cloud does not restore
  the resources updated before the failure (a difference from AWS, which rolls
  them back), and says so in the event's reason and a warning.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from moto.cloudformation import models, parsing

logger = logging.getLogger(__name__)

RESOURCE_ATTRIBUTE = "_localcloud_failed_resource"
_NO_ROLLBACK = (
    "The local cloud does not roll back a failed update: resources updated "
    "before the failure keep their new state. "
)


def mark_failed(error: BaseException, logical_id: str) -> bool:
    """Records which resource `error` came from; False if it was known already
    (the error of a resource created for another one passes through both)."""
    if hasattr(error, RESOURCE_ATTRIBUTE):
        return False
    setattr(error, RESOURCE_ATTRIBUTE, logical_id)
    return True


def reason_of(error: BaseException) -> str:
    message = getattr(error, "message", None)
    return str(message or error) or type(error).__name__


def resource_event(
    resources_map: Any,
    logical_id: str,
    resource_type: str,
    status: str,
    *,
    physical_id: str = "",
    reason: str | None = None,
) -> None:
    """Appends a resource event to the stack `resources_map` belongs to."""
    backend = models.cloudformation_backends[resources_map._account_id][
        resources_map._region_name
    ]
    stack = backend.stacks.get(resources_map.stack_id)
    if stack is None:
        return
    stack.events.append(
        models.Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical_id,
            physical_resource_id=physical_id,
            resource_type=resource_type,
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
    )


def patch_lifecycle() -> None:
    _patch_resource_events()
    _patch_stack_creation()
    _patch_stack_update()
    _patch_change_set_execution()


def _patch_resource_events() -> None:
    create_resource: Callable[..., Any] = parsing.parse_and_create_resource

    @functools.wraps(create_resource)
    def parse_and_create_resource(
        logical_id: str,
        resource_json: dict[str, Any],
        resources_map: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        kind = str(resource_json.get("Type", ""))
        try:
            resource = create_resource(
                logical_id, resource_json, resources_map, account_id, region_name
            )
        except Exception as error:
            if mark_failed(error, logical_id):
                resource_event(resources_map, logical_id, kind, "CREATE_IN_PROGRESS")
                resource_event(
                    resources_map,
                    logical_id,
                    kind,
                    "CREATE_FAILED",
                    reason=f"Resource handler returned message: {reason_of(error)}",
                )
            raise
        if resource is None:  # a false Condition, or a type nobody implements
            return None
        physical = getattr(resource, "physical_resource_id", "")
        resource_event(resources_map, logical_id, kind, "CREATE_IN_PROGRESS")
        resource_event(
            resources_map,
            logical_id,
            kind,
            "CREATE_COMPLETE",
            physical_id=str(physical or ""),
        )
        return resource

    parsing.parse_and_create_resource = parse_and_create_resource


def _failure(error: BaseException) -> str:
    resource = getattr(error, RESOURCE_ATTRIBUTE, None)
    prefix = f"The following resource(s) failed: [{resource}]. " if resource else ""
    return prefix + reason_of(error)


def _roll_back_creation(stack: Any, reason: str) -> None:
    logger.warning("stack %s failed to create: %s; rolling back", stack.name, reason)
    stack.status = "ROLLBACK_IN_PROGRESS"
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
    try:
        stack.resource_map.delete()
    except Exception as error:  # what cannot be deleted stays, as on AWS
        logger.warning("stack %s: rollback left resources: %s", stack.name, error)
    stack.status = "ROLLBACK_COMPLETE"
    stack._add_stack_event("ROLLBACK_COMPLETE")


def _fail_update(stack: Any, reason: str) -> None:
    logger.warning("stack %s failed to update: %s", stack.name, reason)
    stack.status = "UPDATE_ROLLBACK_FAILED"
    stack._add_stack_event(
        "UPDATE_ROLLBACK_FAILED", resource_status_reason=_NO_ROLLBACK + reason
    )


def _patch_stack_creation() -> None:
    create_resources = models.Stack.create_resources

    @functools.wraps(create_resources)
    def guarded_create_resources(self: Any) -> None:
        try:
            create_resources(self)
        except Exception as error:
            reason = _failure(error)
            self._add_stack_event("CREATE_FAILED", resource_status_reason=reason)
            _roll_back_creation(self, reason)

    models.Stack.create_resources = guarded_create_resources  # type: ignore[method-assign]


def _patch_stack_update() -> None:
    update = models.Stack.update

    @functools.wraps(update)
    def guarded_update(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            update(self, *args, **kwargs)
        except Exception as error:
            if not hasattr(error, RESOURCE_ATTRIBUTE):
                raise  # the template itself: UpdateStack answers ValidationError
            _fail_update(self, _failure(error))

    models.Stack.update = guarded_update  # type: ignore[method-assign]


def _patch_change_set_execution() -> None:
    execute = models.CloudFormationBackend.execute_change_set

    @functools.wraps(execute)
    def guarded_execute(
        self: Any, change_set_name: str, stack_name: str | None = None
    ) -> None:
        try:
            execute(self, change_set_name, stack_name)
        except Exception as error:
            change_set = self.describe_change_set(change_set_name)
            change_set.execution_status = "EXECUTE_FAILED"
            stack = change_set.stack
            reason = _failure(error)
            if change_set.change_set_type == "CREATE":
                stack._add_stack_event("CREATE_FAILED", resource_status_reason=reason)
                _roll_back_creation(stack, reason)
            else:
                _fail_update(stack, reason)

    models.CloudFormationBackend.execute_change_set = guarded_execute  # type: ignore[method-assign]
