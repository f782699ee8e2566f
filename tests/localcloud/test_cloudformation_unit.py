"""The CloudFormation extensions in-process: stacks created with boto3 against
moto under `mock_aws`, with the local cloud's models and engine changes."""

from __future__ import annotations

import io
import json
import textwrap
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from localcloud.cloudformation import extend_moto, registered_types
from localcloud.cloudformation.iot import api_shape

pytestmark = pytest.mark.unit

REGION = "us-east-1"


def yaml(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


class Clients:
    """boto3 clients by attribute (`aws.s3`), and the stack calls tests repeat."""

    def __getattr__(self, service: str) -> Any:
        return self.client(service)

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)

    def create(self, name: str, template: str, **parameters: str) -> dict[str, Any]:
        self.cloudformation.create_stack(
            StackName=name,
            TemplateBody=template,
            Parameters=[
                {"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()
            ],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        return self.stack(name)

    def update(self, name: str, template: str, **parameters: str) -> dict[str, Any]:
        self.cloudformation.update_stack(
            StackName=name,
            TemplateBody=template,
            Parameters=[
                {"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()
            ],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        return self.stack(name)

    def stack(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.cloudformation.describe_stacks(StackName=name)[
            "Stacks"
        ][0]
        return found

    def outputs(self, name: str) -> dict[str, str]:
        return {o["OutputKey"]: o["OutputValue"] for o in self.stack(name)["Outputs"]}


@pytest.fixture
def aws() -> Iterator[Clients]:
    extend_moto(port=4566)
    with mock_aws():
        yield Clients()


def test_the_resource_types_a_serverless_iot_stack_needs_are_registered() -> None:
    extend_moto()

    assert {
        "AWS::IoT::TopicRule",
        "AWS::SecretsManager::Secret",
        "AWS::SecretsManager::SecretTargetAttachment",
        "AWS::ApiGateway::Stage",
        "AWS::ApiGateway::RestApi",
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",
    } <= set(registered_types())


def test_a_generated_secret_follows_its_template_length_and_exclusions(
    aws: Clients,
) -> None:
    template = yaml(
        """
        Resources:
          Secret:
            Type: AWS::SecretsManager::Secret
            Properties:
              Name: app/db
              GenerateSecretString:
                SecretStringTemplate: '{"username": "app"}'
                GenerateStringKey: password
                PasswordLength: 40
                ExcludeCharacters: "abcdefABCDEF012345"
        Outputs:
          Arn: {Value: !Ref Secret}
        """
    )

    outputs = aws.outputs(aws.create("secret", template)["StackName"])
    value = json.loads(
        aws.secretsmanager.get_secret_value(SecretId="app/db")["SecretString"]
    )

    assert outputs["Arn"].startswith(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-"
    )
    assert value["username"] == "app"
    assert len(value["password"]) == 40
    assert not set(value["password"]) & set("abcdefABCDEF012345")


def test_a_secret_given_both_a_value_and_a_generator_fails_the_stack_with_the_reason(
    aws: Clients,
) -> None:
    template = yaml(
        """
        Resources:
          Secret:
            Type: AWS::SecretsManager::Secret
            Properties:
              SecretString: fixed
              GenerateSecretString: {PasswordLength: 10}
        """
    )

    stack = aws.create("both", template)
    events = aws.cloudformation.describe_stack_events(StackName="both")["StackEvents"]
    reasons = [
        e.get("ResourceStatusReason") or ""
        for e in events
        if e["LogicalResourceId"] == "Secret"
    ]

    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert any(
        "SecretString and GenerateSecretString are mutually exclusive" in r
        for r in reasons
    )


def test_dynamic_references_resolve_secrets_by_name_and_arn_and_ssm_parameters(
    aws: Clients,
) -> None:
    aws.secretsmanager.create_secret(
        Name="creds", SecretString=json.dumps({"user": "ada", "pass": "s3cr3t"})
    )
    arn = aws.secretsmanager.describe_secret(SecretId="creds")["ARN"]
    aws.ssm.put_parameter(Name="/app/color", Value="blue", Type="String")
    template = yaml(
        f"""
        Resources:
          Queue:
            Type: AWS::SQS::Queue
            Properties:
              Tags:
                - Key: user
                  Value: "{{{{resolve:secretsmanager:creds:SecretString:user}}}}"
                - Key: pass
                  Value: "{{{{resolve:secretsmanager:{arn}:SecretString:pass}}}}"
                - Key: whole
                  Value: "{{{{resolve:secretsmanager:creds}}}}"
                - Key: color
                  Value: "color={{{{resolve:ssm:/app/color}}}}"
        Outputs:
          Url: {{Value: !Ref Queue}}
        """
    )

    url = aws.outputs(aws.create("refs", template)["StackName"])["Url"]
    tags = aws.sqs.list_queue_tags(QueueUrl=url)["Tags"]

    assert tags["user"] == "ada"
    assert tags["pass"] == "s3cr3t"
    assert json.loads(tags["whole"]) == {"user": "ada", "pass": "s3cr3t"}
    assert tags["color"] == "color=blue"
    template_back = aws.cloudformation.get_template(StackName="refs")["TemplateBody"]
    assert "{{resolve:secretsmanager:creds:SecretString:user}}" in str(template_back)


def test_a_reference_to_a_missing_key_fails_the_resource_naming_the_key(
    aws: Clients,
) -> None:
    aws.secretsmanager.create_secret(Name="creds", SecretString='{"user": "ada"}')
    template = yaml(
        """
        Resources:
          Queue:
            Type: AWS::SQS::Queue
            Properties:
              QueueName: "{{resolve:secretsmanager:creds:SecretString:password}}"
        """
    )

    stack = aws.create("missing-key", template)
    reason = aws.cloudformation.describe_stack_events(StackName="missing-key")[
        "StackEvents"
    ][1]["ResourceStatusReason"]

    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "the secret has no key 'password'" in reason


def test_a_secret_attachment_adds_the_instance_endpoint_to_the_secret(
    aws: Clients,
) -> None:
    template = yaml(
        """
        Resources:
          Secret:
            Type: AWS::SecretsManager::Secret
            Properties:
              GenerateSecretString:
                SecretStringTemplate: '{"username": "app", "dbname": "data"}'
                GenerateStringKey: password
                ExcludePunctuation: true
          Database:
            Type: AWS::RDS::DBInstance
            Properties:
              Engine: postgres
              DBInstanceClass: db.t4g.micro
              AllocatedStorage: "20"
              MasterUsername: !Sub
                "{{resolve:secretsmanager:${Secret}:SecretString:username}}"
              MasterUserPassword: !Sub
                "{{resolve:secretsmanager:${Secret}:SecretString:password}}"
          Attachment:
            Type: AWS::SecretsManager::SecretTargetAttachment
            Properties:
              SecretId: !Ref Secret
              TargetId: !Ref Database
              TargetType: AWS::RDS::DBInstance
        Outputs:
          Secret: {Value: !Ref Attachment}
          Port: {Value: !GetAtt Database.Endpoint.Port}
        """
    )

    outputs = aws.outputs(aws.create("db", template)["StackName"])
    secret = json.loads(
        aws.secretsmanager.get_secret_value(SecretId=outputs["Secret"])["SecretString"]
    )
    instance = aws.rds.describe_db_instances()["DBInstances"][0]

    assert secret["engine"] == "postgres"
    assert secret["port"] == 5432 == int(outputs["Port"])
    assert secret["host"] == instance["Endpoint"]["Address"]
    assert secret["dbInstanceIdentifier"] == instance["DBInstanceIdentifier"]
    assert instance["MasterUsername"] == "app"
    assert secret["dbname"] == "data"


def test_a_topic_rule_is_stored_in_the_iot_api_s_shape(aws: Clients) -> None:
    template = yaml(
        """
        Parameters:
          Role: {Type: String, Default: "arn:aws:iam::123456789012:role/r"}
        Resources:
          Queue:
            Type: AWS::SQS::Queue
          Rule:
            Type: AWS::IoT::TopicRule
            Properties:
              TopicRulePayload:
                Sql: "SELECT * FROM 'sensors/+'"
                RuleDisabled: "true"
                Actions:
                  - Sqs: {QueueUrl: !Ref Queue, RoleArn: !Ref Role}
                  - Republish: {Topic: out, Qos: 1, RoleArn: !Ref Role}
        Outputs:
          Name: {Value: !Ref Rule}
          Arn: {Value: !GetAtt Rule.Arn}
        """
    )

    outputs = aws.outputs(aws.create("rules", template)["StackName"])
    rule = aws.iot.get_topic_rule(ruleName=outputs["Name"])

    assert outputs["Name"].startswith("Rule_")
    assert rule["ruleArn"] == outputs["Arn"]
    assert rule["rule"]["ruleDisabled"] is True
    assert "/rules-Queue-" in rule["rule"]["actions"][0]["sqs"]["queueUrl"]
    assert rule["rule"]["actions"][1] == {
        "republish": {
            "topic": "out",
            "qos": 1,
            "roleArn": "arn:aws:iam::123456789012:role/r",
        }
    }


def test_cloudformation_rule_actions_become_the_api_s_camel_case() -> None:
    converted = api_shape(
        [
            {"Http": {"Url": "http://x", "Headers": [{"Key": "A", "Value": "b"}]}},
            {"Kafka": {"ClientProperties": {"bootstrap.servers": "h:1"}}},
        ]
    )

    assert converted == [
        {"http": {"url": "http://x", "headers": [{"key": "A", "value": "b"}]}},
        {"kafka": {"clientProperties": {"bootstrap.servers": "h:1"}}},
    ]


def test_a_rest_api_body_a_stage_and_a_mock_method_are_deployed(aws: Clients) -> None:
    template = yaml(
        """
        Resources:
          Api:
            Type: AWS::ApiGateway::RestApi
            Properties:
              Body:
                openapi: "3.0.1"
                info: {title: from-body}
                paths:
                  /health:
                    get:
                      x-amazon-apigateway-integration:
                        type: mock
                        requestTemplates: {application/json: '{"statusCode": 200}'}
                        responses: {default: {statusCode: "200"}}
              BinaryMediaTypes: [image~1png]
          Ping:
            Type: AWS::ApiGateway::Resource
            Properties:
              RestApiId: !Ref Api
              ParentId: !GetAtt Api.RootResourceId
              PathPart: ping
          PingOptions:
            Type: AWS::ApiGateway::Method
            Properties:
              RestApiId: !Ref Api
              ResourceId: !Ref Ping
              HttpMethod: OPTIONS
              AuthorizationType: NONE
              Integration:
                Type: MOCK
                RequestTemplates: {application/json: '{"statusCode": 204}'}
                IntegrationResponses:
                  - StatusCode: "204"
                    ResponseParameters:
                      method.response.header.Access-Control-Allow-Origin: "'*'"
              MethodResponses:
                - StatusCode: "204"
                  ResponseParameters:
                    method.response.header.Access-Control-Allow-Origin: true
          Deployment:
            Type: AWS::ApiGateway::Deployment
            DependsOn: PingOptions
            Properties: {RestApiId: !Ref Api}
          Stage:
            Type: AWS::ApiGateway::Stage
            Properties:
              RestApiId: !Ref Api
              DeploymentId: !Ref Deployment
              StageName: live
              Variables: {mode: test}
        Outputs:
          Url: {Value: !Sub "https://${Api}.execute-api.${AWS::Region}.amazonaws.com/live/"}
        """
    )

    outputs = aws.outputs(aws.create("api", template)["StackName"])
    api = aws.apigateway.get_rest_apis()["items"][0]
    paths = {
        r["path"]: r for r in aws.apigateway.get_resources(restApiId=api["id"])["items"]
    }
    stage = aws.apigateway.get_stage(restApiId=api["id"], stageName="live")
    integration = aws.apigateway.get_integration(
        restApiId=api["id"], resourceId=paths["/ping"]["id"], httpMethod="OPTIONS"
    )

    assert api["name"] == "from-body"
    assert api["binaryMediaTypes"] == ["image/png"]
    assert set(paths) == {"/", "/health", "/ping"}
    assert stage["variables"] == {"mode": "test"}
    assert integration["integrationResponses"]["204"]["responseParameters"] == {
        "method.response.header.Access-Control-Allow-Origin": "'*'"
    }
    assert outputs["Url"] == f"http://{api['id']}.execute-api.localhost:4566/live/"


def test_a_website_bucket_gets_its_configuration_policy_and_local_url(
    aws: Clients,
) -> None:
    template = yaml(
        """
        Resources:
          Site:
            Type: AWS::S3::Bucket
            Properties:
              BucketName: my-site
              WebsiteConfiguration: {IndexDocument: index.html, ErrorDocument: 404.html}
              VersioningConfiguration: {Status: Enabled}
              CorsConfiguration:
                CorsRules: [{AllowedMethods: [GET], AllowedOrigins: ["*"], MaxAge: 60}]
          Policy:
            Type: AWS::S3::BucketPolicy
            Properties:
              Bucket: !Ref Site
              PolicyDocument:
                Statement:
                  - {Effect: Allow, Principal: "*", Action: s3:GetObject,
                     Resource: !Sub "${Site.Arn}/*"}
        Outputs:
          Url: {Value: !GetAtt Site.WebsiteURL}
          Built: {Value: !Sub "http://${Site}.s3-website-${AWS::Region}.amazonaws.com"}
        """
    )

    outputs = aws.outputs(aws.create("site", template)["StackName"])
    website = aws.s3.get_bucket_website(Bucket="my-site")

    assert outputs["Url"] == "http://my-site.s3-website.localhost:4566"
    assert outputs["Built"] == "http://my-site.s3-website.localhost:4566"
    assert website["IndexDocument"] == {"Suffix": "index.html"}
    assert website["ErrorDocument"] == {"Key": "404.html"}
    assert aws.s3.get_bucket_versioning(Bucket="my-site")["Status"] == "Enabled"
    assert (
        json.loads(aws.s3.get_bucket_policy(Bucket="my-site")["Policy"])["Statement"][
            0
        ]["Resource"]
        == "arn:aws:s3:::my-site/*"
    )


def test_updating_a_function_changes_its_code_and_configuration_in_place(
    aws: Clients,
) -> None:
    aws.s3.create_bucket(Bucket="code")
    aws.s3.put_object(Bucket="code", Key="v1.zip", Body=zipped({"app.py": "V = 1\n"}))
    aws.s3.put_object(Bucket="code", Key="v2.zip", Body=zipped({"app.py": "V = 2\n"}))
    aws.s3.put_object(Bucket="code", Key="layer.zip", Body=zipped({"python/x.py": ""}))
    template = yaml(
        """
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Key: {Type: String}
          Color: {Type: String}
        Resources:
          Layer:
            Type: AWS::Serverless::LayerVersion
            Properties: {ContentUri: s3://code/layer.zip}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.11
              Handler: app.handler
              CodeUri: {Bucket: code, Key: !Ref Key}
              Layers: [!Ref Layer]
              Environment: {Variables: {COLOR: !Ref Color}}
              DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt Dlq.Arn}
          Dlq:
            Type: AWS::SQS::Queue
        Outputs:
          Name: {Value: !Ref Fn}
        """
    )
    name = aws.outputs(
        aws.create("fn", template, Key="v1.zip", Color="red")["StackName"]
    )["Name"]
    functions = aws.client("lambda")
    before = functions.get_function_configuration(FunctionName=name)

    stack = aws.update("fn", template, Key="v2.zip", Color="green")
    after = functions.get_function_configuration(FunctionName=name)

    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert after["FunctionName"] == before["FunctionName"]
    assert after["CodeSha256"] != before["CodeSha256"]
    assert after["Environment"]["Variables"] == {"COLOR": "green"}
    assert after["Layers"] == before["Layers"]
    assert before["Layers"][0]["Arn"].startswith(
        "arn:aws:lambda:us-east-1:123456789012:layer:"
    )


def test_an_unsupported_transform_is_refused_with_a_validation_error(
    aws: Clients,
) -> None:
    template = (
        "Transform: AWS::LanguageExtensions\nResources:\n  Q: {Type: AWS::SQS::Queue}\n"
    )

    with pytest.raises(ClientError) as refused:
        aws.cloudformation.create_stack(StackName="lx", TemplateBody=template)

    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert (
        "Transform AWS::LanguageExtensions is not supported by the local cloud"
        in str(refused.value)
    )


def test_a_change_set_without_changes_fails_with_cloudformation_s_reason(
    aws: Clients,
) -> None:
    template = yaml(
        """
        Parameters:
          N: {Type: String, Default: a}
        Resources:
          Q: {Type: AWS::SQS::Queue}
        """
    )
    aws.create("same", template)

    aws.cloudformation.create_change_set(
        StackName="same",
        ChangeSetName="again",
        TemplateBody=template,
        ChangeSetType="UPDATE",
        Parameters=[{"ParameterKey": "N", "UsePreviousValue": True}],
    )
    change_set = aws.cloudformation.describe_change_set(
        StackName="same", ChangeSetName="again"
    )

    assert change_set["Status"] == "FAILED"
    assert change_set["StatusReason"].startswith(
        "The submitted information didn't contain changes."
    )


def test_a_change_set_that_creates_a_stack_leaves_its_outputs(aws: Clients) -> None:
    template = yaml(
        """
        Resources:
          Queue: {Type: AWS::SQS::Queue}
        Outputs:
          Url: {Value: !Ref Queue}
        """
    )

    aws.cloudformation.create_change_set(
        StackName="cs",
        ChangeSetName="first",
        TemplateBody=template,
        ChangeSetType="CREATE",
    )
    aws.cloudformation.execute_change_set(StackName="cs", ChangeSetName="first")

    assert aws.stack("cs")["StackStatus"] == "CREATE_COMPLETE"
    assert aws.outputs("cs")["Url"].startswith("https://sqs.us-east-1.amazonaws.com/")


def test_yaml_get_att_splits_at_the_first_dot_like_cloudformation(aws: Clients) -> None:
    template = yaml(
        """
        Resources:
          Database:
            Type: AWS::RDS::DBInstance
            Properties:
              Engine: postgres
              DBInstanceClass: db.t4g.micro
              AllocatedStorage: "20"
        Outputs:
          Address: {Value: !GetAtt Database.Endpoint.Address}
          ListForm: {Value: !GetAtt [Database, Endpoint.Port]}
        """
    )

    outputs = aws.outputs(aws.create("getatt", template)["StackName"])

    assert outputs["Address"].endswith(".rds.amazonaws.com")
    assert outputs["ListForm"] == "5432"


def test_a_queue_policy_is_set_on_its_queues(aws: Clients) -> None:
    template = yaml(
        """
        Resources:
          Queue: {Type: AWS::SQS::Queue}
          Policy:
            Type: AWS::SQS::QueuePolicy
            Properties:
              Queues: [!Ref Queue]
              PolicyDocument:
                Statement:
                  - Effect: Allow
                    Principal: "*"
                    Action: sqs:SendMessage
                    Resource: "*"
        Outputs:
          Url: {Value: !Ref Queue}
        """
    )

    url = aws.outputs(aws.create("qp", template)["StackName"])["Url"]
    attributes = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])

    assert json.loads(attributes["Attributes"]["Policy"])["Statement"][0]["Action"] == (
        "sqs:SendMessage"
    )


def test_auto_publish_alias_gives_a_version_and_an_alias_the_api_invokes(
    aws: Clients,
) -> None:
    template = yaml(
        """
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.11
              Handler: index.handler
              InlineCode: "def handler(event, context):\\n    return {}\\n"
              AutoPublishAlias: live
              Events:
                Get: {Type: Api, Properties: {Path: /, Method: GET}}
        Outputs:
          Alias: {Value: !Ref Fn.Alias}
          Version: {Value: !Ref Fn.Version}
        """
    )

    outputs = aws.outputs(aws.create("alias", template)["StackName"])
    api_id = aws.apigateway.get_rest_apis()["items"][0]["id"]
    root = aws.apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
    uri = aws.apigateway.get_integration(
        restApiId=api_id, resourceId=root, httpMethod="GET"
    )["uri"]

    assert outputs["Version"].endswith(":1")
    assert outputs["Alias"].endswith(":live")
    assert f"/functions/{outputs['Alias']}/invocations" in uri
    assert (
        aws.client("lambda").get_alias(
            FunctionName=outputs["Alias"].rsplit(":", 1)[0], Name="live"
        )["FunctionVersion"]
        == "1"
    )
