"""Importing a Swagger 2.0 or OpenAPI 3 definition with API Gateway's extensions.

moto's PutRestApi accepts only OpenAPI 3 and skips most of the extensions, and
its CloudFormation ignores `Body`, while SAM and Chalice produce Swagger 2.0.
This importer builds the resources, methods, integrations and responses of a
definition through moto's apigateway backend, like ImportRestApi with
`mode=overwrite`:

- `paths` (with `{param}` and `{proxy+}` parts) and their operations, including
  `x-amazon-apigateway-any-method` (ANY);
- `x-amazon-apigateway-integration`: type, uri, httpMethod, requestTemplates,
  passthroughBehavior, timeoutInMillis, contentHandling, credentials,
  requestParameters, cacheKeyParameters and `responses` (integration responses,
  `default` being the one without a selection pattern);
- operation `responses` with `headers` (method responses);
- `x-amazon-apigateway-binary-media-types`.

`merge=True` (PutRestApi's default mode) keeps the resources the API has and
adds or replaces the methods the definition names.

Security requirements mark methods as authorized (AWS_IAM, CUSTOM or API keys)
so that the data plane warns that it does not enforce them; authorizer
definitions, models, request validators and gateway responses are not imported.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

_OPERATIONS = {
    "get": "GET",
    "put": "PUT",
    "post": "POST",
    "delete": "DELETE",
    "options": "OPTIONS",
    "head": "HEAD",
    "patch": "PATCH",
    "x-amazon-apigateway-any-method": "ANY",
}


def binary_media_types(document: dict[str, Any]) -> list[str]:
    listed = document.get("x-amazon-apigateway-binary-media-types") or []
    return [str(item).replace("~1", "/") for item in listed]


def import_definition(
    backend: Any, api: Any, document: dict[str, Any], *, merge: bool = False
) -> None:
    """Replaces (or with `merge`, extends) `api`'s resources with `document`'s."""
    if not isinstance(document.get("paths"), dict):
        raise ValueError(
            "the API definition has no 'paths' object; give a Swagger 2.0 or "
            "OpenAPI 3 document"
        )
    if not merge:
        _clear(backend, api)
    resource_ids = {
        resource.get_path(): resource.id for resource in list(api.resources.values())
    }
    for path in sorted(document["paths"]):
        operations = document["paths"][path]
        resource_id = _ensure_resource(backend, api.id, resource_ids, path)
        if not isinstance(operations, dict):
            continue
        for name, operation in operations.items():
            method = _OPERATIONS.get(name.lower())
            if method is None or not isinstance(operation, dict):
                continue
            _import_operation(backend, api.id, resource_id, method, operation, document)

    types = binary_media_types(document)
    if types:
        api.binaryMediaTypes = types


def _clear(backend: Any, api: Any) -> None:
    root_id = api.root_resource_id
    for resource_id in [rid for rid in list(api.resources) if rid != root_id]:
        backend.delete_resource(api.id, resource_id)
    root = api.resources[root_id]
    for method in list(root.resource_methods):
        backend.delete_method(api.id, root_id, method)


def _ensure_resource(
    backend: Any, api_id: str, resource_ids: dict[str, str], path: str
) -> str:
    current = ""
    parent = resource_ids["/"]
    for part in [p for p in path.split("/") if p]:
        current += f"/{part}"
        if current not in resource_ids:
            created = backend.create_resource(
                function_id=api_id, parent_resource_id=parent, path_part=part
            )
            resource_ids[current] = created.id
        parent = resource_ids[current]
    return parent


def _import_operation(
    backend: Any,
    api_id: str,
    resource_id: str,
    method: str,
    operation: dict[str, Any],
    document: dict[str, Any],
) -> None:
    authorization, api_key = _authorization(operation, document)
    backend.put_method(
        api_id,
        resource_id,
        method,
        authorization,
        api_key_required=api_key,
        operation_name=operation.get("operationId"),
    )
    for status, response in (operation.get("responses") or {}).items():
        headers = (
            (response or {}).get("headers") or {} if isinstance(response, dict) else {}
        )
        backend.put_method_response(
            api_id,
            resource_id,
            method,
            str(status),
            response_models=None,
            response_parameters={f"method.response.header.{h}": False for h in headers},
        )

    integration = operation.get("x-amazon-apigateway-integration")
    if not isinstance(integration, dict):
        return
    kind = str(integration.get("type", "")).upper()
    backend.put_integration(
        function_id=api_id,
        resource_id=resource_id,
        method_type=method,
        integration_type=kind,
        uri=integration.get("uri", ""),
        integration_method=integration.get("httpMethod")
        or ("POST" if kind in ("AWS", "AWS_PROXY") else method),
        credentials=integration.get("credentials"),
        request_templates=integration.get("requestTemplates"),
        passthrough_behavior=integration.get("passthroughBehavior"),
        timeout_in_millis=integration.get("timeoutInMillis"),
        request_parameters=integration.get("requestParameters"),
        content_handling=integration.get("contentHandling"),
    )
    for pattern, response in (integration.get("responses") or {}).items():
        backend.put_integration_response(
            function_id=api_id,
            resource_id=resource_id,
            method_type=method,
            status_code=str(response.get("statusCode", "200")),
            selection_pattern="" if pattern == "default" else pattern,
            response_templates=response.get("responseTemplates") or {},
            response_parameters=response.get("responseParameters") or {},
            content_handling=response.get("contentHandling"),
        )


def _authorization(
    operation: dict[str, Any], document: dict[str, Any]
) -> tuple[str, bool]:
    requirements = operation.get("security", document.get("security")) or []
    definitions: dict[str, Any] = {
        **(document.get("securityDefinitions") or {}),
        **((document.get("components") or {}).get("securitySchemes") or {}),
    }
    authorization, api_key = "NONE", False
    for requirement in requirements:
        for name in requirement if isinstance(requirement, dict) else []:
            scheme = definitions.get(name) or {}
            auth_type = str(scheme.get("x-amazon-apigateway-authtype", "")).lower()
            if scheme.get("type") == "apiKey" and not auth_type:
                api_key = True
            elif auth_type == "awssigv4":
                authorization = "AWS_IAM"
            elif auth_type == "cognito_user_pools":
                authorization = "COGNITO_USER_POOLS"
            else:
                authorization = "CUSTOM"
    return authorization, api_key
