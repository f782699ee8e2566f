"""API Gateway resource types, beyond what moto's CloudFormation handles.

- `AWS::ApiGateway::RestApi`: Body / BodyS3Location (Swagger 2.0 or OpenAPI 3
  with API Gateway's extensions, as SAM writes it) imported into the API,
  BinaryMediaTypes, EndpointConfiguration, Policy, DisableExecuteApiEndpoint,
  MinimumCompressionSize, ApiKeySourceType, Tags. An update re-imports the body
  in overwrite mode and keeps the API's id, stages and deployments.
- `AWS::ApiGateway::Deployment`: Ref is the deployment id (moto gives none).
- `AWS::ApiGateway::Stage`: missing in moto; DeploymentId, Variables,
  Description, TracingEnabled, cache settings; updated in place.
- `AWS::ApiGateway::Method`: moto keeps only the integration's type and URI;
  here the integration (request templates, timeout, ...), its integration
  responses and the method responses are kept too, so MOCK methods such as
  CORS preflights work.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from moto.apigateway.models import apigateway_backends
from moto.cloudformation.models import Stack as MotoStack
from moto.s3.models import s3_backends

from localcloud.apigateway.openapi import binary_media_types, import_definition

from .base import LocalResource, as_bool, tags_to_dict
from .exceptions import TemplateError

logger = logging.getLogger(__name__)


class RestApi(LocalResource):
    TYPE = "AWS::ApiGateway::RestApi"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = frozenset({"RootResourceId", "RestApiId"})

    @classmethod
    def create(
        cls,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> RestApi:
        backend: Any = apigateway_backends[account_id][region]
        body = _body(properties, account_id, logical_id)
        title = (body or {}).get("info", {}).get("title") if body else None
        endpoint = properties.get("EndpointConfiguration") or {}
        api = backend.create_rest_api(
            name=properties.get("Name") or title or name,
            description=properties.get("Description", ""),
            api_key_source=properties.get("ApiKeySourceType"),
            endpoint_configuration={"types": endpoint["Types"]}
            if endpoint.get("Types")
            else None,
            tags=tags_to_dict(properties.get("Tags")) or None,
            policy=_text(properties.get("Policy")),
            minimum_compression_size=properties.get("MinimumCompressionSize"),
            disable_execute_api_endpoint=as_bool(
                properties.get("DisableExecuteApiEndpoint")
            ),
        )
        resource = cls(
            api.id,
            properties,
            account_id,
            region,
            {"RootResourceId": api.root_resource_id, "RestApiId": api.id},
        )
        resource.apply_body(body, properties)
        return resource

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
        backend: Any = apigateway_backends[account_id][region]
        api = backend.get_rest_api(original.physical_resource_id)
        body = _body(properties, account_id, logical_id)
        api.name = properties.get("Name") or api.name
        api.description = properties.get("Description", api.description)
        api.disableExecuteApiEndpoint = as_bool(
            properties.get("DisableExecuteApiEndpoint")
        )
        original.apply_body(body, properties)
        original.properties = properties
        return original

    def apply_body(
        self, body: dict[str, Any] | None, properties: dict[str, Any]
    ) -> None:
        backend: Any = apigateway_backends[self.account_id][self.region]
        api = backend.get_rest_api(self.physical_resource_id)
        if body is not None:
            try:
                import_definition(backend, api, body)
            except (ValueError, KeyError, TypeError) as error:
                raise TemplateError(
                    f"RestApi {api.name}: the Body could not be imported ({error})"
                ) from error
        listed = properties.get("BinaryMediaTypes")
        if listed:
            api.binaryMediaTypes = [str(t).replace("~1", "/") for t in listed]
        elif body is not None:
            api.binaryMediaTypes = binary_media_types(body)

    def remove(self) -> None:
        backend: Any = apigateway_backends[self.account_id][self.region]
        if self.physical_resource_id in backend.apis:
            backend.delete_rest_api(self.physical_resource_id)


def _body(
    properties: dict[str, Any], account_id: str, logical_id: str
) -> dict[str, Any] | None:
    body = properties.get("Body")
    location = properties.get("BodyS3Location")
    if body is None and location:
        try:
            key = s3_backends[account_id]["aws"].get_object(
                location["Bucket"], location["Key"], location.get("Version")
            )
        except Exception as error:  # moto's MissingBucket / MissingKey
            raise TemplateError(
                f"{logical_id}: BodyS3Location s3://{location.get('Bucket')}/"
                f"{location.get('Key')} cannot be read ({error})"
            ) from error
        if key is None:
            raise TemplateError(
                f"{logical_id}: BodyS3Location s3://{location.get('Bucket')}/"
                f"{location.get('Key')} does not exist; upload the definition first"
            )
        body = key.value.decode()
    if isinstance(body, str):
        try:
            body = MotoStack.parse_template(body)
        except ValueError as error:
            raise TemplateError(
                f"{logical_id}: Body is not JSON or YAML ({error})"
            ) from error
    if body is not None and not isinstance(body, dict):
        raise TemplateError(
            f"{logical_id}: Body must be an object (an OpenAPI document)"
        )
    return body


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


class Deployment(LocalResource):
    TYPE = "AWS::ApiGateway::Deployment"
    ATTRIBUTES = frozenset({"DeploymentId"})

    @classmethod
    def create(
        cls,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> Deployment:
        api_id = str(properties.get("RestApiId", ""))
        stage_description = properties.get("StageDescription") or {}
        backend: Any = apigateway_backends[account_id][region]
        deployment = backend.create_deployment(
            function_id=api_id,
            name=properties.get("StageName"),
            description=properties.get("Description", ""),
            stage_variables=stage_description.get("Variables"),
        )
        return cls(
            deployment.id,
            properties,
            account_id,
            region,
            {"DeploymentId": deployment.id},
        )

    def remove(self) -> None:
        backend: Any = apigateway_backends[self.account_id][self.region]
        api = backend.apis.get(str(self.properties.get("RestApiId", "")))
        if api is None:
            return
        in_use = [
            s.name
            for s in api.stages.values()
            if s.deployment_id == self.physical_resource_id
        ]
        if in_use:
            raise TemplateError(
                f"deployment {self.physical_resource_id} is still used by stages "
                f"{', '.join(in_use)}; point them at another deployment first"
            )
        api.deployments.pop(self.physical_resource_id, None)


class Stage(LocalResource):
    TYPE = "AWS::ApiGateway::Stage"
    NAME_PROPERTY = "StageName"

    @classmethod
    def create(
        cls,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> Stage:
        api_id = str(properties.get("RestApiId", ""))
        stage_name = str(properties.get("StageName") or name)
        backend: Any = apigateway_backends[account_id][region]
        backend.create_stage(
            api_id,
            stage_name,
            str(properties.get("DeploymentId", "")),
            variables=dict(properties.get("Variables") or {}),
            description=properties.get("Description", ""),
            cacheClusterEnabled=as_bool(properties.get("CacheClusterEnabled")),
            cacheClusterSize=properties.get("CacheClusterSize"),
            tags=tags_to_dict(properties.get("Tags")) or None,
            tracing_enabled=as_bool(properties.get("TracingEnabled")),
        )
        return cls(stage_name, properties, account_id, region)

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
        before = original.properties
        if (
            properties.get("RestApiId") != before.get("RestApiId")
            or str(properties.get("StageName") or original.physical_resource_id)
            != original.physical_resource_id
        ):
            return super().update(
                original, name, logical_id, properties, account_id, region
            )
        backend: Any = apigateway_backends[account_id][region]
        stage = backend.get_stage(
            str(properties["RestApiId"]), original.physical_resource_id
        )
        stage.deployment_id = str(properties.get("DeploymentId", stage.deployment_id))
        stage.variables = dict(properties.get("Variables") or {})
        stage.description = properties.get("Description", "")
        stage.tracing_enabled = as_bool(properties.get("TracingEnabled"))
        original.properties = properties
        return original

    def remove(self) -> None:
        backend: Any = apigateway_backends[self.account_id][self.region]
        api = backend.apis.get(str(self.properties.get("RestApiId", "")))
        if api is not None:
            api.stages.pop(self.physical_resource_id, None)


class Method(LocalResource):
    TYPE = "AWS::ApiGateway::Method"

    @classmethod
    def create(
        cls,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> Method:
        backend: Any = apigateway_backends[account_id][region]
        api_id = str(properties.get("RestApiId", ""))
        resource_id = str(properties.get("ResourceId", ""))
        method = str(properties.get("HttpMethod", "")).upper()
        backend.put_method(
            api_id,
            resource_id,
            method,
            properties.get("AuthorizationType", "NONE"),
            api_key_required=as_bool(properties.get("ApiKeyRequired")),
            request_parameters=properties.get("RequestParameters"),
            request_models=properties.get("RequestModels"),
            operation_name=properties.get("OperationName"),
            authorizer_id=properties.get("AuthorizerId"),
            authorization_scopes=properties.get("AuthorizationScopes"),
            request_validator_id=properties.get("RequestValidatorId"),
        )
        for response in properties.get("MethodResponses") or []:
            backend.put_method_response(
                api_id,
                resource_id,
                method,
                str(response.get("StatusCode")),
                response_models=response.get("ResponseModels"),
                response_parameters=response.get("ResponseParameters"),
            )
        integration = properties.get("Integration")
        if integration:
            _put_integration(backend, api_id, resource_id, method, integration)
        return cls(f"{api_id}-{resource_id}-{method}", properties, account_id, region)

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
        original.remove()
        return cls.create(name, logical_id, properties, account_id, region)

    def remove(self) -> None:
        backend: Any = apigateway_backends[self.account_id][self.region]
        api = backend.apis.get(str(self.properties.get("RestApiId", "")))
        resource = (
            api.resources.get(str(self.properties.get("ResourceId"))) if api else None
        )
        if resource is not None:
            resource.resource_methods.pop(
                str(self.properties.get("HttpMethod")).upper(), None
            )


def _put_integration(
    backend: Any,
    api_id: str,
    resource_id: str,
    method: str,
    integration: dict[str, Any],
) -> None:
    kind = str(integration.get("Type", "")).upper()
    backend.put_integration(
        function_id=api_id,
        resource_id=resource_id,
        method_type=method,
        integration_type=kind,
        uri=integration.get("Uri", ""),
        integration_method=integration.get("IntegrationHttpMethod")
        or ("POST" if kind in ("AWS", "AWS_PROXY") else method),
        credentials=integration.get("Credentials"),
        request_templates=integration.get("RequestTemplates"),
        passthrough_behavior=integration.get("PassthroughBehavior"),
        timeout_in_millis=integration.get("TimeoutInMillis"),
        request_parameters=integration.get("RequestParameters"),
        content_handling=integration.get("ContentHandling"),
        connection_type=integration.get("ConnectionType"),
    )
    for response in integration.get("IntegrationResponses") or []:
        backend.put_integration_response(
            function_id=api_id,
            resource_id=resource_id,
            method_type=method,
            status_code=str(response.get("StatusCode")),
            selection_pattern=response.get("SelectionPattern", ""),
            response_templates=response.get("ResponseTemplates") or {},
            response_parameters=response.get("ResponseParameters") or {},
            content_handling=response.get("ContentHandling"),
        )
