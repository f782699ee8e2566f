"""The LocalStack target, checked without a Docker engine (this machine has none):
the compose file validates and keeps its promises (pinned images, loopback ports,
a required auth token, health checks), the Dockerfile lints and its image holds
what the engine imports, the deploy tooling writes what the compose file and the
init hook read, the template deploys with the LocalStack parameters, and the
standalone rules engine reads the template's rule and sends to SQS (moto; one test
with a real Mosquitto).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import paho.mqtt.client as mqtt
import pytest
import yaml
from moto import mock_aws
from paho.mqtt.enums import CallbackAPIVersion

from deploy import localstack
from deploy.build import Artifact
from deploy.config import StackConfig
from deploy.errors import DeployError
from localcloud.iot import standalone
from localcloud.iot.actions import ActionRun
from localcloud.iot.message import Message
from localcloud.iot.sqs_action import SqsSender
from localcloud.iot.template_rules import (
    Resolver,
    StackContext,
    TemplateRules,
    api_form,
    load_template,
)
from tests.unit.test_template import (
    check_parameter_values,
    effective_template,
    lint_messages,
    transformed,
)

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "localstack" / "docker-compose.yml"
RULES_DOCKERFILE = REPO / "localstack" / "Dockerfile.rules-engine"
HOOK = REPO / "localstack" / "init" / "ready.d" / "10-deploy-orchestralink.sh"
AGREED_SQL = (
    "SELECT *, topic(2) AS machine_id, topic(3) AS parameter, "
    "timestamp() AS received_at FROM 'machine/+/+'"
)
SITE_PACKAGES = Path(yaml.__file__).resolve().parents[1]
DOCKER_COMPOSE = shutil.which("docker-compose")
needs_docker_compose = pytest.mark.skipif(
    DOCKER_COMPOSE is None,
    reason="docker-compose (Debian package, validates without an engine) is not "
    "installed: apt-get install docker-compose",
)


def compose_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return document


def required_variables() -> set[str]:
    return set(re.findall(r"\$\{(\w+):\?", COMPOSE_FILE.read_text()))


@pytest.fixture
def config(tmp_path: Path) -> StackConfig:
    return StackConfig(state_dir=tmp_path / "state", target="localstack")


@pytest.fixture
def settings_written(config: StackConfig) -> Path:
    localstack.write_settings(
        config, {"simulator": "s1", "rules-engine": "r1", "dashboard": "d1"}
    )
    return localstack.localstack_dir(config)


def run_compose_config(
    env_file: Path, token: str | None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "LOCALSTACK_AUTH_TOKEN"}
    if token is not None:
        environment["LOCALSTACK_AUTH_TOKEN"] = token
    return subprocess.run(
        [str(DOCKER_COMPOSE), "-p", localstack.PROJECT, "--env-file", str(env_file),
         "-f", str(COMPOSE_FILE), "config"],
        capture_output=True, text=True, env=environment, timeout=60, check=False,
    )  # fmt: skip


# ---------------------------------------------------------------- compose file


@needs_docker_compose
def test_the_compose_file_validates_with_the_settings_the_tooling_writes(
    settings_written: Path,
) -> None:
    result = run_compose_config(settings_written / "compose.env", token="ls-token")

    resolved = yaml.safe_load(result.stdout)
    assert result.returncode == 0, result.stderr
    assert set(resolved["services"]) == {
        "localstack", "postgres", "mosquitto", "rules-engine", "simulator"
    }  # fmt: skip
    assert resolved["services"]["localstack"]["environment"][
        "LOCALSTACK_AUTH_TOKEN"
    ] == ("ls-token")
    assert resolved["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == (
        localstack.db_password(StackConfig(state_dir=settings_written.parent))
    )


@needs_docker_compose
def test_without_the_auth_token_compose_refuses_and_says_what_to_set(
    settings_written: Path,
) -> None:
    result = run_compose_config(settings_written / "compose.env", token=None)

    assert result.returncode != 0
    assert "set LOCALSTACK_AUTH_TOKEN to your LocalStack auth token" in result.stderr


@needs_docker_compose
def test_without_the_state_folder_compose_says_to_run_the_deploy_once(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")

    result = run_compose_config(empty, token="ls-token")

    assert result.returncode != 0
    assert "make deploy-local TARGET=localstack" in result.stderr


def test_every_image_is_pinned_to_a_version() -> None:
    services = compose_document()["services"]
    images = {name: service["image"] for name, service in services.items()}
    pulled = {n: i for n, i in images.items() if "build" not in services[n]}

    assert set(pulled) == {"localstack", "postgres", "mosquitto"}
    for name, image in pulled.items():
        _, _, tag = image.rpartition(":")
        assert re.fullmatch(r"\d+(\.\d+)+(-alpine)?", tag), (name, image)
    assert pulled["localstack"].startswith("localstack/localstack:2026.")
    assert pulled["mosquitto"].startswith("eclipse-mosquitto:2.0.")
    assert pulled["postgres"].startswith("postgres:18.")


def test_every_published_port_is_bound_to_the_loopback_address() -> None:
    ports = [
        (name, port)
        for name, service in compose_document()["services"].items()
        for port in service.get("ports", [])
    ]

    assert len(ports) == 4
    for name, port in ports:
        assert str(port).startswith("127.0.0.1:"), (name, port)


def test_the_auth_token_comes_from_the_environment_and_has_no_default() -> None:
    environment = compose_document()["services"]["localstack"]["environment"]

    assert environment["LOCALSTACK_AUTH_TOKEN"].startswith("${LOCALSTACK_AUTH_TOKEN:?")
    assert "LOCALSTACK_AUTH_TOKEN:-" not in COMPOSE_FILE.read_text()


def test_every_service_is_health_checked_and_waits_for_healthy_dependencies() -> None:
    services = compose_document()["services"]
    image_checked = {
        "rules-engine": RULES_DOCKERFILE,
        "simulator": REPO / "simulator" / "Dockerfile",
    }

    for name, service in services.items():
        if name in image_checked:
            assert "HEALTHCHECK" in image_checked[name].read_text(), name
        else:
            assert service["healthcheck"]["test"], name
        for dependency in service.get("depends_on", {}).values():
            assert dependency == {"condition": "service_healthy"}, name
    assert set(services["simulator"]["depends_on"]) == {"mosquitto", "rules-engine"}
    assert set(services["rules-engine"]["depends_on"]) == {"localstack", "mosquitto"}


def test_lambda_containers_reach_postgres_on_the_compose_network() -> None:
    document = compose_document()
    localstack_service = document["services"]["localstack"]

    assert (
        localstack_service["environment"]["LAMBDA_DOCKER_NETWORK"]
        == (document["networks"]["default"]["name"])
    )
    assert "/var/run/docker.sock:/var/run/docker.sock" in localstack_service["volumes"]
    assert localstack.DB_HOST in document["services"]


def test_the_init_hook_is_an_executable_script_mounted_into_ready_d() -> None:
    volumes = compose_document()["services"]["localstack"]["volumes"]

    assert "./init/ready.d:/etc/localstack/init/ready.d:ro" in volumes
    assert HOOK.stat().st_mode & stat.S_IXUSR
    assert HOOK.read_text().startswith("#!/bin/bash\n")
    if shutil.which("shellcheck"):
        result = subprocess.run(
            ["shellcheck", str(HOOK)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout


# ---------------------------------------------------------------- rules engine image


def test_the_rules_engine_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"

    result = subprocess.run(
        [str(hadolint), "--failure-threshold", "info", str(RULES_DOCKERFILE)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr


def copied_sources(dockerfile: Path) -> list[str]:
    """The repository paths a Dockerfile COPYs (not from another stage)."""
    text = dockerfile.read_text().replace("\\\n", " ")
    sources = []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources += words[1:-1]
    return sources


def test_the_dockerignore_lets_through_everything_the_dockerfile_copies() -> None:
    ignore = Path(f"{RULES_DOCKERFILE}.dockerignore").read_text().splitlines()
    allowed = [line[1:] for line in ignore if line.startswith("!")]

    for source in copied_sources(RULES_DOCKERFILE):
        assert source in allowed, source


def test_the_engine_runs_from_the_files_the_image_copies_without_moto(
    tmp_path: Path,
) -> None:
    app = tmp_path / "app"
    for source in copied_sources(RULES_DOCKERFILE):
        if not source.startswith("infrastructure/localcloud/localcloud/"):
            continue
        for path in REPO.glob(source):
            target = app / path.relative_to(REPO / "infrastructure" / "localcloud")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    requirements = (REPO / "localstack" / "rules-engine.requirements.txt").read_text()
    probe = (
        "import sys; sys.modules['moto'] = None; "
        "import localcloud.iot.standalone as s; s.build_parser(); "
        f"assert s.__file__.startswith({str(app)!r}), s.__file__; "
        "print(sorted({m.split('.')[0] for m in sys.modules}"
        " - set(sys.stdlib_module_names)))"
    )

    result = subprocess.run(
        # -S: no site processing, so no .pth file (the venv's editable install
        # of localcloud) adds the repository; the packages come from site-packages.
        [sys.executable, "-S", "-c", probe], capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": f"{app}{os.pathsep}{SITE_PACKAGES}"},
        cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    imported = set(json.loads(result.stdout.strip().replace("'", '"')))
    distributions = {
        "paho": "paho-mqtt",
        "yaml": "PyYAML",
        "dateutil": "python-dateutil",
    }
    optional = {
        "moto",  # blocked above: the image has none
        "certifi",  # botocore uses it when installed, else its own CA bundle
        "regex",  # lark uses it when installed, else re
        "cython_runtime",  # PyYAML's C extension
    }
    third_party = {m for m in imported if not m.startswith("_")} - {"localcloud"}
    for module in third_party - optional:
        assert f"{distributions.get(module, module)}==" in requirements, module


# ---------------------------------------------------------------- deploy tooling


def fake_runner(**codes: int) -> Any:
    def run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        key = command[1]  # "info" or "compose"
        return subprocess.CompletedProcess(
            command, codes.get(key, 0), "", f"{key} said no"
        )

    return run


def test_preflight_without_a_token_says_where_to_get_one() -> None:
    docker = localstack.Docker(fake_runner(), which=lambda _: "/usr/bin/docker")

    with pytest.raises(DeployError, match="LOCALSTACK_AUTH_TOKEN is not set") as raised:
        docker.check({})

    assert "app.localstack.cloud" in str(raised.value)
    assert "TARGET=local" in str(raised.value)


def test_preflight_without_a_docker_engine_says_to_start_docker() -> None:
    docker = localstack.Docker(fake_runner(info=1), which=lambda _: "/usr/bin/docker")

    with pytest.raises(DeployError, match="no Docker engine answers") as raised:
        docker.check({"LOCALSTACK_AUTH_TOKEN": "t"})

    assert "info said no" in str(raised.value)


def test_preflight_without_the_docker_command_says_what_to_install() -> None:
    docker = localstack.Docker(fake_runner(), which=lambda _: None)

    with pytest.raises(DeployError, match="the docker command is missing"):
        docker.check({"LOCALSTACK_AUTH_TOKEN": "t"})


def test_preflight_without_the_compose_plugin_says_what_to_install() -> None:
    docker = localstack.Docker(
        fake_runner(compose=1), which=lambda _: "/usr/bin/docker"
    )

    with pytest.raises(DeployError, match="Docker Compose plugin is missing"):
        docker.check({"LOCALSTACK_AUTH_TOKEN": "t"})


def test_the_settings_hold_every_variable_the_compose_file_requires(
    settings_written: Path,
) -> None:
    env_file = settings_written / "compose.env"
    written = dict(
        line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line
    )

    assert required_variables() - set(written) == {"LOCALSTACK_AUTH_TOKEN"}
    assert "LOCALSTACK_AUTH_TOKEN" not in env_file.read_text()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert (
        stat.S_IMODE((settings_written / "mosquitto-passwords").stat().st_mode) == 0o600
    )
    assert (
        written["DB_PASSWORD"] == (settings_written / "db-password").read_text().strip()
    )


def test_the_broker_configuration_for_containers_comes_from_the_repository_one(
    settings_written: Path,
) -> None:
    rendered = (settings_written / "mosquitto.conf").read_text()
    volumes = compose_document()["services"]["mosquitto"]["volumes"]
    command = " ".join(compose_document()["services"]["mosquitto"]["command"])

    assert "listener 1883 0.0.0.0" in rendered
    assert "listener 9001 0.0.0.0" in rendered
    assert "allow_anonymous false" in rendered
    assert "acl_file /etc/orchestralink/mosquitto/acl" in rendered
    assert "../mosquitto/acl:/etc/orchestralink/mosquitto/acl:ro" in volumes
    assert "password_file /var/lib/orchestralink/mosquitto/passwords" in rendered
    assert "/var/lib/orchestralink/mosquitto/passwords" in command
    assert "persistence_location /var/lib/orchestralink/mosquitto/data/" in rendered
    assert "mosquitto-data:/var/lib/orchestralink/mosquitto/data" in volumes


def make_zip(path: Path, files: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


@pytest.fixture
def built(tmp_path: Path) -> list[Artifact]:
    layer = make_zip(tmp_path / "SharedLayer.zip", {
        "python/orchestralink/__init__.py": "LAYER = True\n",
        "python/orchestralink/db.py": "layer copy\n",
    })  # fmt: skip
    function = make_zip(tmp_path / "IngestFunction.zip", {
        "ingest/handler.py": "def lambda_handler(e, c): ...\n",
        "orchestralink/db.py": "function copy\n",
    })  # fmt: skip
    return [
        Artifact("SharedLayer", "layer", tmp_path, layer, "a" * 64, rebuilt=True),
        Artifact("IngestFunction", "function", tmp_path, function, "b" * 64, True),
    ]


def test_the_shared_layer_is_packed_into_each_function_zip(
    built: list[Artifact], tmp_path: Path
) -> None:
    inlined = {
        a.logical_id: a for a in localstack.with_layers_inlined(built, tmp_path / "out")
    }

    with zipfile.ZipFile(inlined["IngestFunction"].zip_path) as archive:
        names = archive.namelist()
        own_copy = archive.read("orchestralink/db.py").decode()

    assert names == sorted(names)
    assert set(names) == {
        "ingest/handler.py", "orchestralink/__init__.py", "orchestralink/db.py"
    }  # fmt: skip
    assert own_copy == "function copy\n"
    assert inlined["SharedLayer"] == built[0]


def test_packing_the_layer_twice_gives_the_same_zip(
    built: list[Artifact], tmp_path: Path
) -> None:
    first = localstack.with_layers_inlined(built, tmp_path / "one")
    second = localstack.with_layers_inlined(built, tmp_path / "two")

    assert [a.sha256 for a in first] == [a.sha256 for a in second]


def test_the_bundle_holds_what_the_init_hook_reads(
    config: StackConfig, built: list[Artifact], tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<html></html>")
    template = {"Resources": {
        "SharedLayer": {"Type": "AWS::Serverless::LayerVersion", "Properties": {}},
        "IngestFunction": {"Type": "AWS::Serverless::Function", "Properties": {}},
    }}  # fmt: skip
    bucket = localstack.artifact_bucket(config)
    locations = {
        a.logical_id: {"Bucket": bucket, "Key": localstack.artifact_key(a)}
        for a in built
    }
    packaged = {
        "Resources": {
            k: {**v, "Properties": {"CodeUri": f"s3://{bucket}/{locations[k]['Key']}"}}
            for k, v in template["Resources"].items()
        }
    }

    bundle = localstack.write_bundle(
        config, packaged, {"Stage": "dev", "ExternalDatabasePassword": "pw"},
        built, dist, {"apiUrl": "http://127.0.0.1:4566/_aws/execute-api/@API_ID@/dev/"},
    )  # fmt: skip

    hook = HOOK.read_text()
    stack_env = dict(
        line.split("=", 1) for line in (bundle / "stack.env").read_text().split()
    )
    for name in stack_env:
        assert f"${name}" in hook, name
    assert set(re.findall(r"\$bundle/([\w.-]+)", hook)) == {
        "stack.env", "artifacts", "parameters.txt", "template.json", "dashboard",
        "dashboard-config.json.in",
    }  # fmt: skip
    assert (
        bundle / "parameters.txt"
    ).read_text() == "Stage=dev\nExternalDatabasePassword=pw\n"
    assert stat.S_IMODE((bundle / "parameters.txt").stat().st_mode) == 0o600
    for resource in json.loads((bundle / "template.json").read_text())[
        "Resources"
    ].values():
        key = resource["Properties"]["CodeUri"].removeprefix(f"s3://{bucket}/")
        assert (bundle / "artifacts" / key).is_file()
    assert (bundle / "dashboard" / "index.html").is_file()
    assert "@API_ID@" in (bundle / "dashboard-config.json.in").read_text()


# ---------------------------------------------------------------- the template


@pytest.fixture(scope="module")
def localstack_parameters() -> dict[str, str]:
    config = StackConfig(target="localstack")
    return localstack.stack_parameters(
        config, load_template(REPO / "template.yaml"), "Generated_password-1"
    )


def test_the_tooling_passes_values_the_template_accepts(
    localstack_parameters: dict[str, str],
) -> None:
    source = json.loads(json.dumps(load_template(REPO / "template.yaml")))

    check_parameter_values(source, localstack_parameters)
    assert localstack_parameters["DatabaseMode"] == "external"
    assert localstack_parameters["CreateIotRule"] == "false"
    assert localstack_parameters["ExternalDatabaseHost"] == localstack.DB_HOST


def test_the_template_with_the_localstack_parameters_lints_and_transforms(
    localstack_parameters: dict[str, str],
) -> None:
    source = json.loads(json.dumps(load_template(REPO / "template.yaml")))
    effective = effective_template(source, localstack_parameters)

    messages = lint_messages(effective)
    resources = transformed(effective)

    assert messages == []
    assert "TelemetryRule" not in resources
    assert "DatabaseInstance" not in resources
    assert "VpcConfig" not in resources["IngestFunction"]["Properties"]


# ---------------------------------------------------------------- standalone engine


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def rules_from_template(**options: Any) -> TemplateRules:
    return TemplateRules(
        REPO / "template.yaml",
        cloudformation=boto3.client("cloudformation"),
        sqs=boto3.client("sqs"),
        region="us-east-1",
        account_id="123456789012",
        **options,
    )


def test_the_cloudformation_yaml_tags_read_as_their_long_form(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "Resources:\n  R:\n    Type: X\n    Properties:\n"
        "      A: !GetAtt Db.Endpoint.Address\n"
        '      B: !Sub ["${x}", {x: !Ref P}]\n'
        "      C: !If [Cond, 1, !Ref AWS::NoValue]\n"
        "      D: !Condition Cond\n"
    )

    properties = load_template(path)["Resources"]["R"]["Properties"]

    assert properties == {
        "A": {"Fn::GetAtt": ["Db", "Endpoint.Address"]},
        "B": {"Fn::Sub": ["${x}", {"x": {"Ref": "P"}}]},
        "C": {"Fn::If": ["Cond", 1, {"Ref": "AWS::NoValue"}]},
        "D": {"Condition": "Cond"},
    }


def test_an_unreadable_template_names_the_path_and_the_option(tmp_path: Path) -> None:
    with pytest.raises(standalone.IotError, match="pass --template") as raised:
        load_template(tmp_path / "missing.yaml")

    assert "missing.yaml" in str(raised.value)


def test_cloudformation_action_keys_become_the_iot_apis(tmp_path: Path) -> None:
    assert api_form([{"Sqs": {"QueueUrl": "u", "UseBase64": False}}]) == [
        {"sqs": {"queueUrl": "u", "useBase64": False}}
    ]
    assert api_form({"Republish": {"Topic": "a/${topic()}", "Qos": 1}}) == {
        "republish": {"topic": "a/${topic()}", "qos": 1}
    }


def test_the_resolver_evaluates_subs_conditions_and_pseudo_parameters() -> None:
    template = {
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}},
        "Resources": {},
    }
    context = StackContext("111122223333", "eu-west-1", {"Stage": "dev"})
    resolver = Resolver(template, context, sqs=None)

    assert resolver.resolve(
        {"Fn::Sub": "arn:${AWS::Region}:${AWS::AccountId}:${Stage}:${!Literal}"}
    ) == ("arn:eu-west-1:111122223333:dev:${Literal}")
    assert resolver.resolve({"Fn::If": ["IsProd", "big", "small"]}) == "small"
    with pytest.raises(standalone.IotError, match="Ref Nope: no such parameter"):
        resolver.resolve({"Ref": "Nope"})


def test_the_rule_of_the_template_is_read_with_its_queue_urls(aws: None) -> None:
    sqs = boto3.client("sqs")
    telemetry = sqs.create_queue(QueueName="orchestralink-dev-telemetry")["QueueUrl"]
    errors = sqs.create_queue(QueueName="orchestralink-dev-iot-rule-errors")["QueueUrl"]

    (rule,) = rules_from_template()()

    assert rule.name == "orchestralink_dev_telemetry"
    assert rule.sql == AGREED_SQL
    assert rule.sql_version == "2016-03-23"
    assert rule.disabled is False
    assert rule.actions == [{"sqs": {"queueUrl": telemetry, "useBase64": False}}]
    assert rule.error_action == {"sqs": {"queueUrl": errors, "useBase64": False}}


def test_parameter_overrides_change_the_names_the_rule_resolves(aws: None) -> None:
    sqs = boto3.client("sqs")
    sqs.create_queue(QueueName="orchestralink-prod-telemetry")
    sqs.create_queue(QueueName="orchestralink-prod-iot-rule-errors")

    (rule,) = rules_from_template(overrides={"Stage": "prod"})()

    assert rule.name == "orchestralink_prod_telemetry"


def test_until_the_queues_exist_no_rule_runs_and_the_wait_is_logged(
    aws: None, caplog: pytest.LogCaptureFixture
) -> None:
    now = [0.0]
    rules = rules_from_template(clock=lambda: now[0])

    before = rules()
    sqs = boto3.client("sqs")
    sqs.create_queue(QueueName="orchestralink-dev-telemetry")
    sqs.create_queue(QueueName="orchestralink-dev-iot-rule-errors")
    cached = rules()
    now[0] += 10
    after = rules()

    assert before == []
    assert cached == []  # re-read every few seconds, not on every engine refresh
    assert [rule.name for rule in after] == ["orchestralink_dev_telemetry"]
    assert "queue orchestralink-dev-telemetry (TelemetryQueue) is not there yet" in (
        caplog.text
    )


STACK_TEMPLATE = """
Parameters:
  Stage: {Type: String, Default: dev}
  CreateIotRule: {Type: String, Default: "false"}
Conditions:
  HasIotRule: !Equals [!Ref CreateIotRule, "true"]
Resources:
  Queue:
    Type: AWS::SQS::Queue
  Errors:
    Type: AWS::SQS::Queue
  Rule:
    Type: AWS::IoT::TopicRule
    Condition: HasIotRule
    Properties:
      RuleName: !Sub rule_${Stage}
      TopicRulePayload:
        Sql: "SELECT * FROM 'machine/+/+'"
        Actions:
          - Sqs: {QueueUrl: !Ref Queue, RoleArn: !GetAtt Role.Arn}
        ErrorAction:
          Sqs: {QueueUrl: !Ref Errors, RoleArn: !GetAtt Role.Arn}
"""


def test_a_deployed_stack_gives_the_parameters_and_queue_urls(
    aws: None, tmp_path: Path
) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(STACK_TEMPLATE)
    cfn = boto3.client("cloudformation")
    cfn.create_stack(
        StackName="s1",
        TemplateBody=STACK_TEMPLATE,
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "qa"}],
    )
    queues = {
        r.get("LogicalResourceId"): r.get("PhysicalResourceId")
        for r in cfn.describe_stack_resources(StackName="s1")["StackResources"]
    }

    (rule,) = TemplateRules(
        path, cloudformation=cfn, sqs=boto3.client("sqs"), region="us-east-1",
        account_id="000000000000", stack_name="s1",
    ).read()  # fmt: skip

    assert rule.name == "rule_qa"
    assert rule.actions == [{"sqs": {"queueUrl": queues["Queue"]}}]
    assert rule.error_action == {"sqs": {"queueUrl": queues["Errors"]}}
    assert rule.account_id == "123456789012"  # the stack's, from its id


def test_a_stack_that_is_not_deployed_yet_is_waited_for(aws: None) -> None:
    rules = rules_from_template(stack_name="orchestralink")

    with pytest.raises(standalone.IotError, match="waiting for stack orchestralink"):
        rules.read()


def test_a_send_to_a_missing_queue_fails_the_action_with_aws_reason(aws: None) -> None:
    sender = SqsSender(standalone.Boto3SqsBackends(endpoint_url=None))
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/gone"
    action = sender.build({"queueUrl": url}, "rule", "us-east-1")
    message = Message("machine/m/T", b"{}", account_id="123456789012")
    run = ActionRun("rule", message, error_action=None)

    action.submit(message, b"{}", run)
    sender.flush()

    (failure,) = run.failures
    assert failure.failed_action == "SqsAction"
    assert failure.error_message.startswith(
        f"Failed to send message to SQS queue {url}. The error received was "
    )
    assert "does not exist" in failure.error_message


def test_a_missing_template_ends_the_command_with_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = standalone.main(["--template", str(tmp_path / "none.yaml")])

    assert code == 2
    assert "none.yaml" in capsys.readouterr().err


@pytest.mark.integration
def test_the_standalone_engine_sends_what_the_rule_selects_to_the_queue(
    aws: None, mosquitto_broker: Any
) -> None:
    # Real Mosquitto on loopback; SQS is moto's, reached through boto3 as the
    # container reaches LocalStack's.
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="orchestralink-dev-telemetry")["QueueUrl"]
    sqs.create_queue(QueueName="orchestralink-dev-iot-rule-errors")
    args = standalone.build_parser().parse_args([
        "--template", str(REPO / "template.yaml"), "--mqtt-host", mosquitto_broker.host,
        "--mqtt-port", str(mosquitto_broker.port), "--client-id", "test-standalone",
    ])  # fmt: skip
    engine, rules = standalone.create_engine(args)
    engine.start()
    try:
        deadline = time.monotonic() + 20
        while not standalone.healthy(engine, rules) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the subscription follows the connection
        publisher = mqtt.Client(CallbackAPIVersion.VERSION2)
        publisher.connect(mosquitto_broker.host, mosquitto_broker.port)
        publisher.loop_start()
        reading = {"machine_id": "drill-001", "value": 812.4, "sequence": 1}
        publisher.publish(
            "machine/drill-001/Temperature", json.dumps(reading), qos=1
        ).wait_for_publish(5)
        publisher.disconnect()
        publisher.loop_stop()
        messages: list[dict[str, Any]] = []
        while not messages and time.monotonic() < deadline:
            messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get(
                "Messages", []
            )
    finally:
        engine.stop()

    (message,) = messages
    body = json.loads(message["Body"])
    assert body["machine_id"] == "drill-001"
    assert body["parameter"] == "Temperature"
    assert body["value"] == 812.4
    assert isinstance(body["received_at"], int)
    assert engine.failures == 0
