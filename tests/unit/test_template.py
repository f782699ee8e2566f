"""template.yaml: it lints, it transforms like SAM does, and the transformed stack has
the properties the rest of the project relies on (least privilege, the agreed rule
SQL, redrive after three receives, partial batch responses, one API route per
Chalice route, a private encrypted database).

The transform runs offline: code locations are rewritten to S3 URIs the way
`sam package` would, and managed policy names come from a static map instead of
IAM ListPolicies.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from math import inf
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.decode import cfn_yaml
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
AGREED_SQL = (
    "SELECT *, topic(2) AS machine_id, topic(3) AS parameter, "
    "timestamp() AS received_at FROM 'machine/+/+'"
)
FUNCTIONS = ("IngestFunction", "ApiFunction", "MigrateFunction")
# The AWS managed policies SAM attaches for logs, VPC networking and X-Ray. Anything
# else (AWSLambdaSQSQueueExecutionRole, say) would grant more than this stack needs.
ALLOWED_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}


class StaticManagedPolicyLoader:
    """Stands in for SAM's IAM-backed loader; the template names no managed policy
    by name, so the map only has to exist."""

    def load(self) -> dict[str, str]:
        return {
            "AWSLambdaBasicExecutionRole": (
                "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
            ),
        }


def load_source() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE))))
    return data


def package(template: dict[str, Any]) -> dict[str, Any]:
    """What `sam package` does to code locations: local folders become S3 URIs."""
    packaged: dict[str, Any] = json.loads(json.dumps(template))
    for logical_id, resource in packaged["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in properties:
                properties[key] = f"s3://artifacts/{logical_id}.zip"
    return packaged


def sam_transform(
    template: dict[str, Any], parameters: dict[str, Any] | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = transform(
        package(template), parameters or {}, StaticManagedPolicyLoader()
    )
    return result


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return load_source()


@pytest.fixture(scope="module")
def resources(source: dict[str, Any]) -> dict[str, Any]:
    """The transformed template's resources."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        transformed = sam_transform(source)
    result: dict[str, Any] = transformed["Resources"]
    return result


def of_type(resources: dict[str, Any], type_name: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == type_name}


def policy_documents(resources: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every IAM policy document in the stack, named by where it is."""
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if "AssumeRolePolicyDocument" in properties:
            yield f"{logical_id} trust", properties["AssumeRolePolicyDocument"]
        for policy in properties.get("Policies", []):
            yield f"{logical_id} {policy['PolicyName']}", policy["PolicyDocument"]
        if "PolicyDocument" in properties:
            yield logical_id, properties["PolicyDocument"]


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(resources: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = resources[f"{function}Role"]["Properties"]
    return [
        s for p in role.get("Policies", []) for s in statements(p["PolicyDocument"])
    ]


def chalice_routes() -> set[tuple[str, str]]:
    app = importlib.import_module("app").app
    return {
        (path, method)
        for path, methods in app.routes.items()
        for method in methods
        if method != "OPTIONS"
    }


# ---------------------------------------------------------------- lint


def test_cfn_lint_finds_nothing_in_the_template() -> None:
    # The command line, so .cfnlintrc (informational rules, several regions) applies
    # exactly as when a developer runs `cfn-lint` at the repository root.
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_cfn_lint_would_report_a_broken_database_setting() -> None:
    broken = TEMPLATE.read_text().replace(
        "PubliclyAccessible: false", "PubliclyAccessible: sometimes"
    )

    matches = lint(broken)

    assert any(m.rule.id == "E3012" and "sometimes" in m.message for m in matches)


# ---------------------------------------------------------------- transform


def test_the_template_transforms_into_the_expected_resources(
    resources: dict[str, Any],
) -> None:
    expected = {
        "IngestFunction": "AWS::Lambda::Function",
        "ApiFunction": "AWS::Lambda::Function",
        "MigrateFunction": "AWS::Lambda::Function",
        "IngestEventSourceMapping": "AWS::Lambda::EventSourceMapping",
        "Api": "AWS::ApiGateway::RestApi",
        "ApiStage": "AWS::ApiGateway::Stage",
        "TelemetryQueue": "AWS::SQS::Queue",
        "TelemetryDLQ": "AWS::SQS::Queue",
        "IotRuleErrorQueue": "AWS::SQS::Queue",
        "TelemetryRule": "AWS::IoT::TopicRule",
        "DashboardBucket": "AWS::S3::Bucket",
        "DashboardBucketPolicy": "AWS::S3::BucketPolicy",
        "DatabaseInstance": "AWS::RDS::DBInstance",
        "DatabaseSecret": "AWS::SecretsManager::Secret",
        "DatabaseSecretAttachment": "AWS::SecretsManager::SecretTargetAttachment",
        "SecretsManagerEndpoint": "AWS::EC2::VPCEndpoint",
    }

    assert {k: resources[k]["Type"] for k in expected} == expected
    assert len(of_type(resources, "AWS::Lambda::LayerVersion")) == 1


def test_the_transform_fails_on_a_route_without_a_path(
    source: dict[str, Any],
) -> None:
    broken = json.loads(json.dumps(source))
    del broken["Resources"]["ApiFunction"]["Properties"]["Events"]["GetHealth"][
        "Properties"
    ]["Path"]

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with pytest.raises(InvalidDocumentException, match="'Path' is required"):
            sam_transform(broken)


# ---------------------------------------------------------------- IAM


def test_no_policy_statement_allows_every_action(resources: dict[str, Any]) -> None:
    documents = list(policy_documents(resources))
    offending = [
        (where, action)
        for where, document in documents
        for statement in statements(document)
        for action in as_list(statement.get("Action", []))
        + as_list(statement.get("NotAction", []))
        if action == "*" or str(action).endswith(":*")
    ]

    assert len(documents) >= 6
    assert offending == []


def test_functions_carry_only_the_managed_policies_lambda_needs(
    resources: dict[str, Any],
) -> None:
    for function in FUNCTIONS:
        managed = resources[f"{function}Role"]["Properties"]["ManagedPolicyArns"]

        assert set(managed) <= ALLOWED_MANAGED_POLICIES, function


def test_ingestion_may_publish_on_alert_topics_only(resources: dict[str, Any]) -> None:
    publish = [
        s
        for s in role_statements(resources, "IngestFunction")
        if "iot:Publish" in as_list(s["Action"])
    ]

    assert len(publish) == 1
    assert publish[0]["Action"] == "iot:Publish"
    assert publish[0]["Resource"]["Fn::Sub"].endswith(":topic/alerts/*")


def test_ingestion_consumes_its_own_queue_only(resources: dict[str, Any]) -> None:
    sqs = [
        s
        for s in role_statements(resources, "IngestFunction")
        if any(str(a).startswith("sqs:") for a in as_list(s["Action"]))
    ]

    assert len(sqs) == 1
    assert "sqs:ReceiveMessage" in sqs[0]["Action"]
    assert sqs[0]["Resource"]["Fn::Sub"][1]["queueName"] == {
        "Fn::GetAtt": ["TelemetryQueue", "QueueName"]
    }


def test_every_function_may_read_the_database_secret_and_no_other(
    resources: dict[str, Any],
) -> None:
    for function in FUNCTIONS:
        reads = [
            s
            for s in role_statements(resources, function)
            if "secretsmanager:GetSecretValue" in as_list(s["Action"])
        ]

        assert len(reads) == 1, function
        assert reads[0]["Resource"]["Fn::Sub"][1] == {
            "secretArn": {"Ref": "DatabaseSecret"}
        }


def test_the_rule_role_is_assumable_by_this_rule_only(
    resources: dict[str, Any],
) -> None:
    role = resources["IotRuleRole"]["Properties"]
    (trust,) = statements(role["AssumeRolePolicyDocument"])
    (send,) = statements(role["Policies"][0]["PolicyDocument"])

    assert trust["Principal"] == {"Service": "iot.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {
        "aws:SourceAccount": {"Ref": "AWS::AccountId"}
    }
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"].endswith(
        ":rule/orchestralink_${Stage}_telemetry"
    )
    assert send["Action"] == "sqs:SendMessage"
    assert send["Resource"] == [
        {"Fn::GetAtt": ["TelemetryQueue", "Arn"]},
        {"Fn::GetAtt": ["IotRuleErrorQueue", "Arn"]},
    ]


# ---------------------------------------------------------------- telemetry path


def test_the_rule_selects_exactly_the_agreed_sql(resources: dict[str, Any]) -> None:
    payload = resources["TelemetryRule"]["Properties"]["TopicRulePayload"]

    assert payload["Sql"] == AGREED_SQL
    assert payload["AwsIotSqlVersion"] == "2016-03-23"
    assert payload["RuleDisabled"] is False


def test_the_rule_sends_to_the_queue_and_errors_elsewhere(
    resources: dict[str, Any],
) -> None:
    payload = resources["TelemetryRule"]["Properties"]["TopicRulePayload"]
    (action,) = payload["Actions"]

    assert action["Sqs"]["QueueUrl"] == {"Ref": "TelemetryQueue"}
    assert action["Sqs"]["UseBase64"] is False
    assert payload["ErrorAction"]["Sqs"]["QueueUrl"] == {"Ref": "IotRuleErrorQueue"}
    assert resources["TelemetryRule"]["Properties"]["RuleName"] == {
        "Fn::Sub": "orchestralink_${Stage}_telemetry"
    }


def test_the_queue_redrives_to_the_dlq_after_three_receives(
    resources: dict[str, Any],
) -> None:
    queue = resources["TelemetryQueue"]["Properties"]
    dlq = resources["TelemetryDLQ"]["Properties"]

    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["TelemetryDLQ", "Arn"]},
        "maxReceiveCount": 3,
    }
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_the_default_visibility_timeout_covers_six_function_timeouts(
    source: dict[str, Any], resources: dict[str, Any]
) -> None:
    # AWS guidance for SQS event sources: visibility >= 6 x timeout + batch window.
    parameters = source["Parameters"]
    visibility = parameters["TelemetryVisibilityTimeout"]["Default"]
    longest_window = parameters["IngestBatchWindowSeconds"]["MaxValue"]
    timeout = resources["IngestFunction"]["Properties"]["Timeout"]

    assert resources["TelemetryQueue"]["Properties"]["VisibilityTimeout"] == {
        "Ref": "TelemetryVisibilityTimeout"
    }
    assert visibility >= 6 * timeout + longest_window


def test_ingestion_reads_batches_with_partial_failure_reports(
    source: dict[str, Any], resources: dict[str, Any]
) -> None:
    mapping = resources["IngestEventSourceMapping"]["Properties"]
    parameters = source["Parameters"]

    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["TelemetryQueue", "Arn"]}
    assert mapping["FunctionName"] == {"Ref": "IngestFunction"}
    assert mapping["BatchSize"] == {"Ref": "IngestBatchSize"}
    assert parameters["IngestBatchSize"]["Default"] == 100
    assert mapping["MaximumBatchingWindowInSeconds"] == {
        "Ref": "IngestBatchWindowSeconds"
    }
    assert parameters["IngestBatchWindowSeconds"]["Default"] == 1
    assert "ScalingConfig" in mapping


# ---------------------------------------------------------------- API


def api_operations(resources: dict[str, Any]) -> dict[tuple[str, str], Any]:
    body = resources["Api"]["Properties"]["Body"]
    return {
        (path, method.upper()): operation
        for path, methods in body["paths"].items()
        for method, operation in methods.items()
    }


def test_the_api_has_exactly_the_chalice_apps_routes(
    resources: dict[str, Any],
) -> None:
    routes = chalice_routes()
    operations = {key for key in api_operations(resources) if key[1] != "OPTIONS"}

    assert operations == routes
    assert ("/alerts/{alert_id}/ack", "POST") in routes


def test_every_api_route_proxies_to_the_api_function(
    resources: dict[str, Any],
) -> None:
    for key, operation in api_operations(resources).items():
        if key[1] == "OPTIONS":
            continue
        integration = operation["x-amazon-apigateway-integration"]

        assert integration["type"] == "aws_proxy", key
        assert "${ApiFunction.Arn}" in integration["uri"]["Fn::Sub"], key


def test_cors_preflight_allows_the_dashboard_origin_not_everyone(
    resources: dict[str, Any],
) -> None:
    preflights = [
        op
        for (_, method), op in api_operations(resources).items()
        if method == "OPTIONS"
    ]
    origins = [
        op["x-amazon-apigateway-integration"]["responses"]["default"][
            "responseParameters"
        ]["method.response.header.Access-Control-Allow-Origin"]
        for op in preflights
    ]

    assert len(preflights) == len({path for path, _ in chalice_routes()})
    for origin in origins:
        explicit, bucket_website = origin["Fn::If"][1:]
        assert explicit == {"Fn::Sub": "'${DashboardOrigin}'"}
        assert bucket_website["Fn::Sub"][1]["WebsiteUrl"] == {
            "Fn::GetAtt": ["DashboardBucket", "WebsiteURL"]
        }


def test_the_api_function_knows_the_dashboard_origin(
    resources: dict[str, Any],
) -> None:
    variables = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]

    assert variables["CORS_ALLOW_ORIGIN"]["Fn::If"][0] == "HasDashboardOrigin"


# ---------------------------------------------------------------- functions


def test_every_function_gets_the_shared_settings(resources: dict[str, Any]) -> None:
    layers = of_type(resources, "AWS::Lambda::LayerVersion")
    for function in FUNCTIONS:
        properties = resources[function]["Properties"]
        variables = properties["Environment"]["Variables"]

        assert properties["Runtime"] == "python3.11", function
        # The secret's ARN either way; through the attachment with RDS, so that
        # the function waits for the secret to hold the instance's address.
        assert variables["DB_SECRET_ARN"] == {
            "Fn::If": [
                "UseRds",
                {"Ref": "DatabaseSecretAttachment"},
                {"Ref": "DatabaseSecret"},
            ]
        }, function
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "OrchestraLink"
        assert variables["POWERTOOLS_SERVICE_NAME"], function
        assert "LOG_LEVEL" in variables
        assert properties["Layers"] == [{"Ref": next(iter(layers))}], function
        condition, in_vpc, outside = properties["VpcConfig"]["Fn::If"]
        assert (condition, outside) == ("UseRds", {"Ref": "AWS::NoValue"})
        assert in_vpc["SecurityGroupIds"] == [{"Ref": "FunctionSecurityGroup"}]


def test_ingestion_is_told_the_iot_data_endpoint(resources: dict[str, Any]) -> None:
    variables = resources["IngestFunction"]["Properties"]["Environment"]["Variables"]

    assert variables["IOT_DATA_ENDPOINT"] == {"Ref": "IotDataEndpoint"}


@pytest.mark.parametrize(
    ("function", "module_file"),
    [
        ("IngestFunction", "ingest/handler.py"),
        ("MigrateFunction", "migrate/handler.py"),
        ("ApiFunction", "app.py"),
    ],
)
def test_each_handler_names_a_module_in_its_code_folder(
    source: dict[str, Any], function: str, module_file: str
) -> None:
    properties = source["Resources"][function]["Properties"]
    module, _, attribute = properties["Handler"].rpartition(".")
    code = REPO / properties["CodeUri"]

    assert module.replace(".", "/") + ".py" == module_file
    assert (code / module_file).is_file()
    assert f"{attribute}" in (code / module_file).read_text()


def test_the_layer_folder_holds_the_package_the_way_sam_build_expects(
    source: dict[str, Any],
) -> None:
    # BuildMethod python3.x puts ContentUri's files under python/ in the layer.
    layer = source["Resources"]["SharedLayer"]
    content = REPO / layer["Properties"]["ContentUri"]

    assert layer["Metadata"]["BuildMethod"] == "python3.11"
    assert (content / "orchestralink" / "__init__.py").is_file()


# ---------------------------------------------------------------- database


def test_the_database_is_private_encrypted_and_snapshotted(
    resources: dict[str, Any],
) -> None:
    instance = resources["DatabaseInstance"]
    properties = instance["Properties"]

    assert properties["Engine"] == "postgres"
    assert properties["PubliclyAccessible"] is False
    assert properties["StorageEncrypted"] is True
    assert instance["DeletionPolicy"] == "Snapshot"
    assert instance["UpdateReplacePolicy"] == "Snapshot"


def test_the_database_credentials_come_from_the_secret(
    resources: dict[str, Any],
) -> None:
    properties = resources["DatabaseInstance"]["Properties"]
    condition, secret, _ = resources["DatabaseSecret"]["Properties"][
        "GenerateSecretString"
    ]["Fn::If"]
    attachment = resources["DatabaseSecretAttachment"]["Properties"]

    for key, field in (
        ("MasterUsername", "username"),
        ("MasterUserPassword", "password"),
    ):
        assert properties[key] == {
            "Fn::Sub": "{{resolve:secretsmanager:${DatabaseSecret}:SecretString:"
            + field
            + "}}"
        }
    assert condition == "UseRds"
    assert secret["GenerateStringKey"] == "password"
    assert set('"@/\\') <= set(secret["ExcludeCharacters"])
    assert '"username"' in secret["SecretStringTemplate"]["Fn::Sub"]
    assert '"dbname"' in secret["SecretStringTemplate"]["Fn::Sub"]
    assert attachment["TargetId"] == {"Ref": "DatabaseInstance"}


def test_only_the_functions_reach_the_database_port(resources: dict[str, Any]) -> None:
    (rule,) = resources["DatabaseSecurityGroup"]["Properties"]["SecurityGroupIngress"]

    assert (rule["FromPort"], rule["ToPort"]) == (5432, 5432)
    assert rule["SourceSecurityGroupId"] == {"Ref": "FunctionSecurityGroup"}
    assert "CidrIp" not in rule


def test_the_database_spans_two_availability_zones(resources: dict[str, Any]) -> None:
    group = resources["DatabaseSubnetGroup"]["Properties"]
    zones = [
        resources[subnet["Ref"]]["Properties"]["AvailabilityZone"]
        for subnet in group["SubnetIds"]
    ]

    assert zones == [
        {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
        {"Fn::Select": [1, {"Fn::GetAZs": ""}]},
    ]


def password_properties(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}/{key}"
            if key.lower().endswith("password"):
                yield where, value
            yield from password_properties(value, where)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from password_properties(value, f"{path}/{index}")


def test_every_password_property_is_a_secrets_manager_reference(
    source: dict[str, Any],
) -> None:
    found = list(password_properties(source["Resources"]))

    assert [where for where, _ in found] == [
        "/DatabaseInstance/Properties/MasterUserPassword"
    ]
    for _, value in found:
        assert value["Fn::Sub"].startswith("{{resolve:secretsmanager:")


# ---------------------------------------------------------------- dashboard


def test_the_dashboard_bucket_is_a_single_page_website(
    resources: dict[str, Any],
) -> None:
    bucket = resources["DashboardBucket"]["Properties"]

    assert bucket["WebsiteConfiguration"] == {
        "IndexDocument": "index.html",
        "ErrorDocument": "index.html",
    }
    # Unnamed unless asked: bucket names are global, a fixed one would collide.
    assert bucket["BucketName"]["Fn::If"][2] == {"Ref": "AWS::NoValue"}


def test_the_public_can_only_read_the_dashboard_objects(
    resources: dict[str, Any],
) -> None:
    policy = resources["DashboardBucketPolicy"]["Properties"]
    (statement,) = statements(policy["PolicyDocument"])
    block = resources["DashboardBucket"]["Properties"]["PublicAccessBlockConfiguration"]

    assert statement["Action"] == "s3:GetObject"
    assert statement["Resource"] == {"Fn::Sub": "${DashboardBucket.Arn}/*"}
    assert block["BlockPublicPolicy"] is False
    assert block["BlockPublicAcls"] is True


# ---------------------------------------------------------------- outputs


def test_the_stack_reports_what_the_deploy_tooling_needs(
    source: dict[str, Any],
) -> None:
    outputs = source["Outputs"]

    assert {
        "ApiUrl",
        "DashboardUrl",
        "DashboardBucketName",
        "DatabaseEndpoint",
        "DatabasePort",
        "DatabaseSecretArn",
        "TelemetryQueueUrl",
        "TelemetryDLQUrl",
        "IngestFunctionName",
        "ApiFunctionName",
        "MigrateFunctionName",
    } <= set(outputs)
    assert outputs["ApiUrl"]["Value"] == {
        "Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}/"
    }


# ---------------------------------------------------------------- targets without
# RDS or IoT Core (LocalStack): DatabaseMode=external and CreateIotRule=false

EXTERNAL_DATABASE = {
    "DatabaseMode": "external",
    "ExternalDatabaseHost": "postgres",
    "ExternalDatabasePort": "5432",
    "ExternalDatabasePassword": "generated-Pass_word1",
    "CreateIotRule": "false",
}
NETWORK_AND_RDS = {
    "Vpc",
    "PrivateSubnetA",
    "PrivateSubnetB",
    "FunctionSecurityGroup",
    "DatabaseSecurityGroup",
    "EndpointSecurityGroup",
    "SecretsManagerEndpoint",
    "DatabaseSubnetGroup",
    "DatabaseInstance",
    "DatabaseSecretAttachment",
}


def check_parameter_values(source: dict[str, Any], values: dict[str, str]) -> None:
    """What CloudFormation checks before it evaluates anything."""
    declared = source["Parameters"]
    for name, value in values.items():
        spec = declared[name]
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], name
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), name
        if spec["Type"] == "Number":
            assert (
                spec.get("MinValue", -inf) <= float(value) <= spec.get("MaxValue", inf)
            ), name


def effective_template(
    source: dict[str, Any], values: dict[str, str]
) -> dict[str, Any]:
    """The template as CloudFormation sees it for these parameter values:
    conditions evaluated, resources and outputs whose condition is false left
    out, every Fn::If replaced by its branch and AWS::NoValue removed."""
    check_parameter_values(source, values)
    parameters = {
        name: str(values.get(name, spec.get("Default", "")))
        for name, spec in source["Parameters"].items()
    }
    definitions = source["Conditions"]
    cache: dict[str, bool] = {}

    def value_of(node: Any) -> Any:
        if isinstance(node, dict) and "Ref" in node:
            return parameters[node["Ref"]]
        return node

    def evaluate(node: Any) -> bool:
        ((function, arguments),) = node.items()
        if function == "Condition":
            return condition(arguments)
        if function == "Fn::Equals":
            return str(value_of(arguments[0])) == str(value_of(arguments[1]))
        if function == "Fn::Not":
            return not evaluate(arguments[0])
        if function == "Fn::And":
            return all(evaluate(argument) for argument in arguments)
        if function == "Fn::Or":
            return any(evaluate(argument) for argument in arguments)
        raise AssertionError(f"condition function {function}")

    def condition(name: str) -> bool:
        if name not in cache:
            cache[name] = evaluate(definitions[name])
        return cache[name]

    no_value = object()

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if node == {"Ref": "AWS::NoValue"}:
                return no_value
            if set(node) == {"Fn::If"}:
                name, when_true, when_false = node["Fn::If"]
                return resolve(when_true if condition(name) else when_false)
            resolved = {key: resolve(value) for key, value in node.items()}
            return {k: v for k, v in resolved.items() if v is not no_value}
        if isinstance(node, list):
            items = [resolve(item) for item in node]
            return [item for item in items if item is not no_value]
        return node

    result = resolve(
        {key: value for key, value in source.items() if key != "Conditions"}
    )
    for section in ("Resources", "Outputs"):
        result[section] = {
            name: {key: value for key, value in entry.items() if key != "Condition"}
            for name, entry in result[section].items()
            if "Condition" not in entry or condition(entry["Condition"])
        }
    for parameter, value in values.items():
        result["Parameters"][parameter]["Default"] = value
    return result


def lint_messages(template: dict[str, Any]) -> list[tuple[str, str]]:
    matches = lint(json.dumps(template, indent=1), regions=["us-east-1"])
    return [(m.rule.id, m.message) for m in matches]


def transformed(template: dict[str, Any]) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        result: dict[str, Any] = sam_transform(template)["Resources"]
    return result


def test_the_default_parameters_keep_the_vpc_rds_and_the_iot_rule(
    source: dict[str, Any],
) -> None:
    effective = effective_template(source, {})

    assert set(effective["Resources"]) >= NETWORK_AND_RDS
    assert {"TelemetryRule", "IotRuleRole"} <= set(effective["Resources"])
    assert "TelemetryRuleName" in effective["Outputs"]
    assert set(source["Resources"]) - set(effective["Resources"]) == {
        "IotDataVpcEndpoint",
        "IotDataHostedZone",
        "IotDataRecord",
    }


def test_an_external_database_leaves_out_the_network_and_rds(
    source: dict[str, Any],
) -> None:
    effective = effective_template(source, EXTERNAL_DATABASE)

    left_out = set(source["Resources"]) - set(effective["Resources"])

    assert left_out == NETWORK_AND_RDS | {
        "TelemetryRule",
        "IotRuleRole",
        "IotDataVpcEndpoint",
        "IotDataHostedZone",
        "IotDataRecord",
    }


def test_the_iot_data_endpoint_in_the_vpc_needs_the_vpc(
    source: dict[str, Any],
) -> None:
    endpoint = "abc123-ats.iot.us-east-1.amazonaws.com"

    with_rds = effective_template(source, {"IotDataEndpoint": endpoint})
    external = effective_template(
        source, {**EXTERNAL_DATABASE, "IotDataEndpoint": endpoint}
    )

    assert "IotDataVpcEndpoint" in with_rds["Resources"]
    assert "IotDataVpcEndpoint" not in external["Resources"]


def test_the_parameter_set_of_the_localstack_target_lints_clean(
    source: dict[str, Any],
) -> None:
    # Linting the evaluated template catches what conditions hide from cfn-lint,
    # such as a Ref to a resource left out by its condition.
    effective = effective_template(source, EXTERNAL_DATABASE)

    messages = lint_messages(effective)

    assert messages == []


def test_the_evaluated_default_template_lints_clean(source: dict[str, Any]) -> None:
    effective = effective_template(source, {})

    messages = lint_messages(effective)

    assert messages == []


def test_a_dangling_reference_in_the_external_mode_would_be_reported(
    source: dict[str, Any],
) -> None:
    broken = json.loads(json.dumps(source))
    broken["Globals"]["Function"]["VpcConfig"] = {
        "SubnetIds": [{"Ref": "PrivateSubnetA"}],
        "SecurityGroupIds": [{"Ref": "FunctionSecurityGroup"}],
    }

    messages = lint_messages(effective_template(broken, EXTERNAL_DATABASE))

    assert "E3030" in {rule for rule, _ in messages}
    assert any(
        message.startswith("'PrivateSubnetA' is not one of") for _, message in messages
    ), messages


def test_functions_run_outside_any_vpc_with_an_external_database(
    source: dict[str, Any],
) -> None:
    resources = transformed(effective_template(source, EXTERNAL_DATABASE))

    for function in FUNCTIONS:
        properties = resources[function]["Properties"]
        variables = properties["Environment"]["Variables"]

        assert "VpcConfig" not in properties, function
        assert variables["DB_SECRET_ARN"] == {"Ref": "DatabaseSecret"}, function
        assert "DependsOn" not in resources[function], function


def test_with_rds_every_function_waits_for_the_secret_attachment(
    source: dict[str, Any],
) -> None:
    resources = transformed(effective_template(source, {}))

    for function in FUNCTIONS:
        variables = resources[function]["Properties"]["Environment"]["Variables"]
        vpc = resources[function]["Properties"]["VpcConfig"]

        assert variables["DB_SECRET_ARN"] == {"Ref": "DatabaseSecretAttachment"}
        assert vpc["SecurityGroupIds"] == [{"Ref": "FunctionSecurityGroup"}]


def test_the_external_database_secret_holds_its_address_and_the_given_password(
    source: dict[str, Any],
) -> None:
    effective = effective_template(source, EXTERNAL_DATABASE)
    properties = effective["Resources"]["DatabaseSecret"]["Properties"]
    parameters = {k: v["Default"] for k, v in effective["Parameters"].items()}

    rendered = re.sub(
        r"\$\{(\w+)\}",
        lambda found: str(parameters[found.group(1)]),
        properties["SecretString"]["Fn::Sub"],
    )

    assert "GenerateSecretString" not in properties
    assert json.loads(rendered) == {
        "username": "orchestralink",
        "password": "generated-Pass_word1",
        "host": "postgres",
        "port": 5432,
        "dbname": "orchestralink",
        "engine": "postgres",
    }


def test_the_outputs_name_the_external_database(source: dict[str, Any]) -> None:
    outputs = effective_template(source, EXTERNAL_DATABASE)["Outputs"]

    assert outputs["DatabaseEndpoint"]["Value"] == {"Ref": "ExternalDatabaseHost"}
    assert outputs["DatabasePort"]["Value"] == {"Ref": "ExternalDatabasePort"}
    assert "TelemetryRuleName" not in outputs


def test_without_the_iot_rule_the_queues_stay_for_the_rules_engine_container(
    source: dict[str, Any],
) -> None:
    effective = effective_template(source, {"CreateIotRule": "false"})
    resources = effective["Resources"]

    assert "TelemetryRule" not in resources
    assert "IotRuleRole" not in resources
    assert {"TelemetryQueue", "IotRuleErrorQueue", "DatabaseInstance"} <= set(resources)
    # The rule itself stays in the file: the rules engine container reads it.
    assert source["Resources"]["TelemetryRule"]["Condition"] == "HasIotRule"


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("ExternalDatabasePassword", 'has"quote'),
        ("ExternalDatabasePassword", "back\\slash"),
        ("ExternalDatabaseHost", "two words"),
        ("DatabaseMode", "aurora"),
        ("CreateIotRule", "yes"),
    ],
)
def test_a_value_that_would_break_the_secret_or_the_switches_is_refused(
    source: dict[str, Any], parameter: str, value: str
) -> None:
    spec = source["Parameters"][parameter]

    if "AllowedValues" in spec:
        assert value not in spec["AllowedValues"]
    else:
        assert re.fullmatch(spec["AllowedPattern"], value) is None
