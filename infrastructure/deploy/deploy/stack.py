"""Deploy the template through CloudFormation, like `sam deploy`.

Built artifacts are uploaded to an artifacts bucket under their content hash
(unchanged code keeps its key), the template's code locations are pointed at
them, and the stack is created or updated through a change set: a change set
with no changes means nothing is touched, so a second deploy of an unchanged
stack is quick and restarts nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from deploy.build import Artifact
from deploy.errors import DeployError

logger = logging.getLogger(__name__)

_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
_DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
_FAILED_SUFFIXES = ("FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED")


def upload_artifacts(
    s3: Any, bucket: str, artifacts: list[Artifact], region: str
) -> dict[str, dict[str, str]]:
    """Upload each zip once; returns logical id -> {Bucket, Key}."""
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**kwargs)
    locations = {}
    for artifact in artifacts:
        key = f"{artifact.kind}s/{artifact.logical_id}/{artifact.sha256}.zip"
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError:
            logger.info("uploading %s (%s)", artifact.logical_id, key)
            s3.upload_file(str(artifact.zip_path), bucket, key)
        locations[artifact.logical_id] = {"Bucket": bucket, "Key": key}
    return locations


def point_at_artifacts(
    template: dict[str, Any], locations: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """A copy of the template whose code locations are the uploaded zips."""
    packaged: dict[str, Any] = json.loads(json.dumps(template))
    for logical_id, location in locations.items():
        resource = packaged["Resources"][logical_id]
        key = "ContentUri" if resource["Type"].endswith("LayerVersion") else "CodeUri"
        resource["Properties"][key] = f"s3://{location['Bucket']}/{location['Key']}"
    return packaged


def _stack_status(cfn: Any, name: str) -> str | None:
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return str(stacks[0]["StackStatus"]) if stacks else None


def _wait_stack(
    cfn: Any, name: str, timeout: float, progress: Callable[[str], None]
) -> str:
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        status = _stack_status(cfn, name) or "DELETED"
        if status != last:
            progress(f"stack {name}: {status}")
            last = status
        if not status.endswith("IN_PROGRESS"):
            return status
        if time.monotonic() > deadline:
            raise DeployError(f"stack {name} still {status} after {timeout:.0f} s")
        time.sleep(0.5)


def _failure_reasons(cfn: Any, name: str) -> str:
    try:
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    except ClientError:
        return ""
    reasons = [
        f"  {e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
        for e in events
        if str(e.get("ResourceStatus", "")).endswith("FAILED")
    ]
    return "\n".join(reasons[:10])


def deploy_stack(
    cfn: Any,
    name: str,
    template: dict[str, Any],
    parameters: dict[str, str],
    progress: Callable[[str], None],
    timeout: float = 600,
) -> bool:
    """Create or update the stack; returns False when nothing changed."""
    status = _stack_status(cfn, name)
    if status == "ROLLBACK_COMPLETE":  # a failed first create cannot be updated
        cfn.delete_stack(StackName=name)
        _wait_stack(cfn, name, timeout, progress)
        status = None
    change_set_type = "CREATE" if status is None else "UPDATE"
    change_set_name = f"deploy-{int(time.time() * 1000)}"
    try:
        cfn.create_change_set(
            StackName=name,
            ChangeSetName=change_set_name,
            ChangeSetType=change_set_type,
            TemplateBody=json.dumps(template),
            Parameters=[
                {"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()
            ],
            Capabilities=_CAPABILITIES,
        )
    except ClientError as error:
        raise DeployError(f"CloudFormation refused the template: {error}") from error
    change_set = _wait_change_set(cfn, name, change_set_name)
    if change_set is None:
        progress(f"stack {name}: no changes")
        return False
    cfn.execute_change_set(StackName=name, ChangeSetName=change_set_name)
    final = _wait_stack(cfn, name, timeout, progress)
    if final not in _DONE:
        raise DeployError(
            f"stack {name} ended in {final}:\n{_failure_reasons(cfn, name)}\n"
            "Fix the template (make check runs cfn-lint) and deploy again."
        )
    return True


def _wait_change_set(cfn: Any, stack: str, change_set: str) -> dict[str, Any] | None:
    """The created change set, or None when it holds no changes."""
    deadline = time.monotonic() + 120
    while True:
        described = cfn.describe_change_set(StackName=stack, ChangeSetName=change_set)
        status = described.get("Status")
        if status == "CREATE_COMPLETE":
            if described.get("Changes") == [] and described.get("ExecutionStatus") in (
                "UNAVAILABLE",
                None,
            ):
                cfn.delete_change_set(StackName=stack, ChangeSetName=change_set)
                return None
            return dict(described)
        if status == "FAILED":
            reason = str(described.get("StatusReason", ""))
            if "didn't contain changes" in reason or "No updates" in reason:
                cfn.delete_change_set(StackName=stack, ChangeSetName=change_set)
                return None
            raise DeployError(f"change set failed: {reason}")
        if time.monotonic() > deadline:
            raise DeployError(f"change set {change_set} still {status} after 120 s")
        time.sleep(0.3)


def stack_outputs(cfn: Any, name: str) -> dict[str, str]:
    stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
