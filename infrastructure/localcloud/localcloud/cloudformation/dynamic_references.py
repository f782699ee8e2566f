"""CloudFormation dynamic references: `{{resolve:service:reference}}` in templates.

Resolved like CloudFormation does, when the resource using them is created or
updated (the stored template keeps the reference):

- `{{resolve:secretsmanager:secret-id:SecretString:json-key:version-stage:version-id}}`
  where secret-id is a name or a full ARN and every part after it is optional
  (the whole SecretString when json-key is empty, AWSCURRENT by default);
- `{{resolve:ssm:name}}` and `{{resolve:ssm:name:version}}`, also for
  `ssm-secure` (SecureString) parameters.

A reference that does not resolve fails the resource with a message naming it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from moto.secretsmanager.models import secretsmanager_backends
from moto.ssm.models import ssm_backends

from .exceptions import TemplateError

_REFERENCE = re.compile(r"\{\{resolve:(?P<service>[a-z-]+):(?P<body>[^{}]+)\}\}")


def contains_reference(text: str) -> bool:
    return "{{resolve:" in text


def resolve_references(text: str, account_id: str, region: str) -> str:
    """`text` with every dynamic reference replaced by its value."""

    def replace(found: re.Match[str]) -> str:
        service, body = found.group("service"), found.group("body")
        if service == "secretsmanager":
            return _secret(body, account_id, region, found.group(0))
        if service in ("ssm", "ssm-secure"):
            return _parameter(body, account_id, region, found.group(0))
        raise TemplateError(
            f"dynamic reference {found.group(0)} uses service {service!r}; the local "
            "cloud resolves secretsmanager, ssm and ssm-secure"
        )

    return _REFERENCE.sub(replace, text)


def _secret(body: str, account_id: str, region: str, reference: str) -> str:
    parts = body.split(":")
    if body.startswith("arn:"):
        secret_id, rest = ":".join(parts[:7]), parts[7:]
    else:
        secret_id, rest = parts[0], parts[1:]
    rest += [""] * (4 - len(rest))
    string_kind, json_key, stage, version_id = rest[:4]
    if string_kind not in ("", "SecretString"):
        raise TemplateError(
            f"dynamic reference {reference}: only SecretString can be referenced "
            f"(found {string_kind!r})"
        )

    backend: Any = secretsmanager_backends[account_id][region]
    if not backend._is_valid_identifier(secret_id):
        raise TemplateError(
            f"dynamic reference {reference}: Secrets Manager can't find the specified "
            f"secret {secret_id!r}"
        )
    value = backend.get_secret_value(
        secret_id,
        version_id or None,
        stage or ("AWSCURRENT" if not version_id else None),
    )
    secret_string = value.get("SecretString")
    if secret_string is None:
        raise TemplateError(
            f"dynamic reference {reference}: the secret has no SecretString"
        )
    if not json_key:
        return str(secret_string)
    try:
        document: Any = json.loads(secret_string)
    except ValueError as error:
        raise TemplateError(
            f"dynamic reference {reference}: the secret is not JSON, so key "
            f"{json_key!r} cannot be read"
        ) from error
    if not isinstance(document, dict) or json_key not in document:
        raise TemplateError(
            f"dynamic reference {reference}: the secret has no key {json_key!r}"
        )
    return str(document[json_key])


def _parameter(body: str, account_id: str, region: str, reference: str) -> str:
    name, _, version = body.partition(":")
    backend: Any = ssm_backends[account_id][region]
    selector = f"{name}:{version}" if version else name
    try:
        parameter = backend.get_parameter(selector)
    except Exception as error:  # moto raises its own ParameterNotFound / RESTError
        raise TemplateError(
            f"dynamic reference {reference}: SSM parameter {name!r} was not found"
        ) from error
    if parameter is None:
        raise TemplateError(
            f"dynamic reference {reference}: SSM parameter {name!r} was not found"
        )
    return str(parameter.value)
