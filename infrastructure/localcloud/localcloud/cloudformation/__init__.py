"""CloudFormation for serverless stacks: moto's engine, extended.

moto runs stacks (CreateStack, UpdateStack, change sets, outputs, exports);
this package adds what a serverless IoT stack needs and moto lacks or gets
wrong: the SAM transform, dynamic references to Secrets Manager and SSM,
resource types (IoT topic rules, Secrets Manager secrets and attachments, API
Gateway stages and OpenAPI bodies, S3 bucket policies and websites, SQS queue
policies) and fuller Lambda, layer and RDS models. See docs/cloudformation.md
for the supported types and properties and the differences from AWS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import apigateway, awslambda, iot, rds, s3, secrets, sqs
from .context import configure
from .engine import patch_engine
from .exceptions import CloudFormationError, TemplateError
from .registry import register, registered_types

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

__all__ = [
    "MODELS",
    "CloudFormationError",
    "TemplateError",
    "extend_moto",
    "install",
    "registered_types",
]

MODELS = (
    apigateway.Deployment,
    apigateway.Method,
    apigateway.RestApi,
    apigateway.Stage,
    awslambda.Alias,
    awslambda.Function,
    awslambda.LayerVersion,
    awslambda.Version,
    iot.TopicRule,
    rds.DBInstance,
    s3.Bucket,
    s3.BucketPolicy,
    secrets.Secret,
    secrets.SecretTargetAttachment,
    sqs.QueuePolicy,
)


def extend_moto(port: int = 4566) -> None:
    """Extends moto's CloudFormation in this process (idempotent). Tests that
    use `mock_aws` call it directly; the local cloud calls it through install."""
    configure(port)
    register(MODELS)
    patch_engine()


def install(cloud: LocalCloud) -> None:
    extend_moto(cloud.config.port)
