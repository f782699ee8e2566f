"""The `AWS::Serverless-2016-10-31` transform, applied on the server like AWS does.

CloudFormation expands SAM templates itself at CreateStack, UpdateStack and
CreateChangeSet; moto does not, so the local cloud runs AWS's own translator
(`aws-sam-translator`) on the parsed template before moto's engine sees it,
with the stack's parameters and the local account and region. As on AWS, code
locations must already be S3 objects (`CodeUri: s3://bucket/key` or
`{Bucket, Key}`), which `sam package` or `aws cloudformation package` produce;
local paths fail with the translator's message. Managed policy names
(`Policies: [AWSLambdaBasicExecutionRole]`) resolve against the AWS managed
policies moto knows. Other transforms (AWS::Include at the top level,
AWS::LanguageExtensions, macros) are refused with a ValidationError.
"""

from __future__ import annotations

import copy
import json
import threading
from functools import cache
from typing import Any

import boto3
from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
from samtranslator.model.exceptions import (
    ExceptionWithMessage,
    InvalidDocumentException,
)
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from .exceptions import TemplateError

SERVERLESS_TRANSFORM = "AWS::Serverless-2016-10-31"

# The translator keeps the region of its boto session in a class attribute.
_lock = threading.Lock()


def transforms_of(template: dict[str, Any]) -> list[str]:
    value = template.get("Transform")
    if value is None:
        return []
    listed = value if isinstance(value, list) else [value]
    return [
        str(item) if not isinstance(item, dict) else str(item.get("Name"))
        for item in listed
    ]


def expand(
    template: dict[str, Any],
    *,
    account_id: str,
    region: str,
    stack_name: str,
    parameters: dict[str, Any],
) -> dict[str, Any]:
    """The template with its SAM resources translated; unchanged without the
    transform."""
    names = transforms_of(template)
    if not names:
        return template
    unsupported = [name for name in names if name != SERVERLESS_TRANSFORM]
    if unsupported:
        raise TemplateError(
            f"Transform {', '.join(unsupported)} is not supported by the local cloud; "
            f"only {SERVERLESS_TRANSFORM} is expanded"
        )

    values = {
        **{key: value for key, value in parameters.items() if value is not None},
        "AWS::AccountId": account_id,
        "AWS::Region": region,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
    }
    # The translator only reads the session's region; no call is made with it.
    session = boto3.session.Session(
        region_name=region,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106
    )
    with _lock:
        metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
        translator = Translator(None, Parser(), boto_session=session, metrics=metrics)
        try:
            expanded: dict[str, Any] = translator.translate(
                copy.deepcopy(template),
                values,
                get_managed_policy_map=managed_policy_map,
            )
            return expanded
        except InvalidDocumentException as error:
            details = " ".join(cause.message for cause in error.causes)
            raise TemplateError(
                f"Transform {SERVERLESS_TRANSFORM} failed with: {error.message} "
                + details
            ) from error
        except ExceptionWithMessage as error:
            raise TemplateError(
                f"Transform {SERVERLESS_TRANSFORM} failed with: {error.message}"
            ) from error
        finally:
            metrics.publish()  # to nowhere; unpublished metrics log a warning


@cache
def managed_policy_map() -> dict[str, str]:
    """AWS managed policy names and their ARNs, from moto's copy of the list."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    policies: dict[str, Any] = json.loads(aws_managed_policies_data)
    return {
        name: f"arn:aws:iam::aws:policy{policy.get('Path', '/')}{name}"
        for name, policy in policies.items()
    }
