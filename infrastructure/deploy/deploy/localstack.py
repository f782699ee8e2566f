"""`make deploy-local TARGET=localstack`: the same template, deployed into LocalStack.

LocalStack (a container, started from localstack/docker-compose.yml) answers the
AWS APIs and runs the functions in Docker; its RDS and IoT Core are paid
features, so PostgreSQL, Mosquitto and the project's rules engine run as
containers beside it, and the stack is deployed with `DatabaseMode=external`
and `CreateIotRule=false` (see template.yaml and localstack/README.md).

The steps, and why they are split between the host and LocalStack's init hook:

1. Fail fast: LOCALSTACK_AUTH_TOKEN, a Docker engine, the compose plugin.
2. Build with the same `Builder` as the local target. The shared layer's files
   are also packed into each function's zip: LocalStack community accepts
   layers but does not apply them (a paid feature), and where it does, the
   function's own copy is found first and is the same code.
3. Write the deploy bundle (packaged template, parameters, zips, dashboard)
   and the compose settings (generated passwords) into `.state/localstack/`.
4. `docker compose up` LocalStack, PostgreSQL and Mosquitto. LocalStack's
   ready.d hook deploys the bundle, so a LocalStack that restarts (it keeps no
   state) redeploys itself; its health check waits for the hook.
5. Deploy from the host too, with the same `deploy_stack` as the local target
   (a change set without changes after the hook), so errors reach this command
   with CloudFormation's reasons; migrate; upload the dashboard.
6. Start the rules engine and the simulator; wait for readings in the API.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from string import Template
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from deploy import credentials, frontend, local
from deploy.build import Artifact, Builder, load_template
from deploy.config import StackConfig
from deploy.errors import DeployError
from deploy.local import Endpoints, Log
from deploy.ports import check_ports_free
from deploy.stack import (
    deploy_stack,
    point_at_artifacts,
    stack_outputs,
    upload_artifacts,
)

PROJECT = "orchestralink-localstack"
DB_HOST = "postgres"  # the container's name on the compose network
DB_CONTAINER_PORT = 5432
STAGE = "dev"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def localstack_dir(config: StackConfig) -> Path:
    return config.state_dir / "localstack"


def db_port() -> int:
    raw = os.environ.get("DB_PORT", "5432")
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise DeployError(f"DB_PORT={raw!r} is not a TCP port (1-65535)")
    return int(raw)


# --- 1. preflight ------------------------------------------------------------------


class Docker:
    """The docker CLI; `run` is injectable so preflight is testable without Docker."""

    def __init__(
        self,
        runner: Runner = subprocess.run,
        which: Callable[[str], str | None] = shutil.which,
    ) -> None:
        self._run = runner
        self._which = which

    def check(self, environ: Mapping[str, str]) -> None:
        if not environ.get("LOCALSTACK_AUTH_TOKEN", "").strip():
            raise DeployError(
                "LOCALSTACK_AUTH_TOKEN is not set: LocalStack images since 2026.03 "
                "refuse to start without an account token. Sign in at "
                "app.localstack.cloud, copy the token from its Auth Token page and "
                "run `LOCALSTACK_AUTH_TOKEN=... make deploy-local TARGET=localstack` "
                "(or use TARGET=local, which needs neither Docker nor an account)"
            )
        if self._which("docker") is None:
            raise DeployError(
                "the docker command is missing: install Docker (Engine or Desktop) "
                "with its Compose plugin, or use TARGET=local, which needs no Docker"
            )
        info = self._run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
        )
        if info.returncode != 0:
            raise DeployError(
                "no Docker engine answers (`docker info` failed: "
                f"{(info.stderr or info.stdout).strip()[:300]}). Start Docker "
                "(Docker Desktop, or `sudo systemctl start docker`), or use "
                "TARGET=local, which needs no Docker"
            )
        version = self._run(
            ["docker", "compose", "version"], capture_output=True, text=True
        )
        if version.returncode != 0:
            raise DeployError(
                "the Docker Compose plugin is missing (`docker compose version` "
                "failed): install docker-compose-plugin (Docker's apt repository) "
                "or Docker Desktop"
            )


class Compose:
    """`docker compose` on localstack/docker-compose.yml with the state's env file."""

    def __init__(self, config: StackConfig, runner: Runner = subprocess.run) -> None:
        self.config = config
        self._run = runner

    @property
    def env_file(self) -> Path:
        return localstack_dir(self.config) / "compose.env"

    def command(self, *arguments: str) -> list[str]:
        compose_file = self.config.repo_dir / "localstack" / "docker-compose.yml"
        return [
            "docker", "compose", "-p", PROJECT, "--env-file", str(self.env_file),
            "-f", str(compose_file), *arguments,
        ]  # fmt: skip

    def run(self, *arguments: str, timeout: float = 1800) -> str:
        result = self._run(
            self.command(*arguments), capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()[-3000:]
            raise DeployError(
                f"`docker compose {' '.join(arguments)}` failed:\n{output}\n"
                f"See `{' '.join(self.command('logs', '--tail', '50'))}`."
            )
        return str(result.stdout)

    def running_services(self) -> set[str]:
        result = self._run(
            self.command("ps", "--status", "running", "--services"),
            capture_output=True,
            text=True,
        )
        return set(result.stdout.split()) if result.returncode == 0 else set()


# --- 2. build ------------------------------------------------------------------------


def with_layers_inlined(artifacts: Sequence[Artifact], out_dir: Path) -> list[Artifact]:
    """Each function's zip plus the files of every layer, laid out at the zip's
    root as Lambda would find them under /opt/python (function files win)."""
    layers = [a for a in artifacts if a.kind == "layer"]
    result = list(layers)
    for artifact in artifacts:
        if artifact.kind != "function":
            continue
        entries: dict[str, tuple[int, bytes]] = {}
        for layer in layers:
            with zipfile.ZipFile(layer.zip_path) as archive:
                for info in archive.infolist():
                    name = info.filename.removeprefix("python/")
                    if name != info.filename and not info.is_dir():
                        entries[name] = (info.external_attr, archive.read(info))
        with zipfile.ZipFile(artifact.zip_path) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    entries[info.filename] = (info.external_attr, archive.read(info))
        result.append(_write_artifact(artifact, entries, out_dir))
    return result


def _write_artifact(
    artifact: Artifact, entries: dict[str, tuple[int, bytes]], out_dir: Path
) -> Artifact:
    tmp = out_dir / f"{artifact.logical_id}.tmp"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in sorted(entries):
            attributes, data = entries[name]
            info = zipfile.ZipInfo(name, _ZIP_EPOCH)
            info.external_attr = attributes
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    sha = hashlib.sha256(tmp.read_bytes()).hexdigest()
    target = out_dir / f"{artifact.logical_id}.zip"
    tmp.replace(target)
    return dataclasses.replace(artifact, zip_path=target, sha256=sha)


def artifact_key(artifact: Artifact) -> str:
    """The S3 key `upload_artifacts` gives an artifact (its content hash)."""
    return f"{artifact.kind}s/{artifact.logical_id}/{artifact.sha256}.zip"


# --- 3. bundle and settings ---------------------------------------------------------


def website_origin(config: StackConfig) -> str:
    bucket = f"{config.stack_name}-dashboard"
    return f"http://{bucket}.s3-website.localhost.localstack.cloud:{config.edge_port}"


def stack_parameters(
    config: StackConfig, template: Mapping[str, Any], db_password: str
) -> dict[str, str]:
    """The local target's parameters, plus the two switches for LocalStack."""
    wanted = {
        "Stage": STAGE,
        "DashboardOrigin": website_origin(config),
        "DashboardBucketName": f"{config.stack_name}-dashboard",
        "TelemetryVisibilityTimeout": "30",
        "Tracing": "PassThrough",
        "DatabaseMode": "external",
        "ExternalDatabaseHost": DB_HOST,
        "ExternalDatabasePort": str(DB_CONTAINER_PORT),
        "ExternalDatabasePassword": db_password,
        "CreateIotRule": "false",
    }
    declared = template.get("Parameters", {})
    missing = {"DatabaseMode", "CreateIotRule"} - set(declared)
    if missing:
        raise DeployError(
            f"{config.template_path} lacks the parameters {sorted(missing)} the "
            "LocalStack target needs (LocalStack has no RDS and no IoT Core)"
        )
    chosen = {key: value for key, value in wanted.items() if key in declared}
    chosen.update(local._parameter_overrides(dict(declared)))
    return chosen


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def db_password(config: StackConfig) -> str:
    """Generated once, kept 0600: the postgres container and the secret share it."""
    path = localstack_dir(config) / "db-password"
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(24)
    _write_private(path, password + "\n")
    return password


def write_bundle(
    config: StackConfig,
    packaged: Mapping[str, Any],
    parameters: Mapping[str, str],
    artifacts: Sequence[Artifact],
    dist: Path | None,
    dashboard_config: Mapping[str, Any],
) -> Path:
    """What the init hook deploys (see localstack/init/ready.d)."""
    bundle = localstack_dir(config) / "bundle"
    shutil.rmtree(bundle, ignore_errors=True)
    (bundle / "artifacts").mkdir(parents=True)
    (bundle / "template.json").write_text(json.dumps(packaged, indent=1))
    _write_private(
        bundle / "parameters.txt",
        "".join(f"{key}={value}\n" for key, value in parameters.items()),
    )
    (bundle / "stack.env").write_text(
        f"STACK_NAME={config.stack_name}\n"
        f"ARTIFACT_BUCKET={artifact_bucket(config)}\n"
        f"REGION={config.region}\n"
    )
    for artifact in artifacts:
        target = bundle / "artifacts" / artifact_key(artifact)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifact.zip_path, target)
    if dist is not None:
        shutil.copytree(dist, bundle / "dashboard")
        (bundle / "dashboard-config.json.in").write_text(
            json.dumps(dashboard_config, indent=2)
        )
    return bundle


def artifact_bucket(config: StackConfig) -> str:
    return f"{config.stack_name}-artifacts"


def write_settings(config: StackConfig, passwords: Mapping[str, str]) -> None:
    """compose.env (0600), the rendered broker configuration and password file."""
    directory = localstack_dir(config)
    directory.mkdir(parents=True, exist_ok=True)
    template = Template((config.repo_dir / "mosquitto" / "mosquitto.conf").read_text())
    (directory / "mosquitto.conf").write_text(
        template.substitute(
            # The eclipse-mosquitto image's own user; the container command gives
            # it the password file and the persistence folder.
            MOSQUITTO_USER="mosquitto",
            MQTT_PORT=1883,
            MQTT_WS_PORT=9001,
            MQTT_BIND="0.0.0.0",  # noqa: S104 (inside the container; published on 127.0.0.1)
            STATE_DIR="/var/lib/orchestralink",
            REPO_DIR="/etc/orchestralink",
        )
    )
    credentials.write_password_file(directory / "mosquitto-passwords", dict(passwords))
    settings = {
        "ORCHESTRALINK_LOCALSTACK_DIR": str(directory),
        "STACK_NAME": config.stack_name,
        "AWS_DEFAULT_REGION": config.region,
        "EDGE_PORT": str(config.edge_port),
        "MQTT_PORT": str(config.mqtt_port),
        "MQTT_WS_PORT": str(config.mqtt_ws_port),
        "DB_PORT": str(db_port()),
        "DB_PASSWORD": db_password(config),
        "MACHINES": str(config.machines),
        "MQTT_SIMULATOR_PASSWORD": passwords["simulator"],
        "MQTT_RULES_ENGINE_PASSWORD": passwords["rules-engine"],
        "MQTT_DASHBOARD_PASSWORD": passwords["dashboard"],
    }
    _write_private(
        directory / "compose.env",
        "# Written by `make deploy-local TARGET=localstack`; not for the repository.\n"
        + "".join(f"{key}={value}\n" for key, value in settings.items()),
    )


# --- 4. to 6. start and deploy -------------------------------------------------------


def aws_client(config: StackConfig, service: str) -> Any:
    """Like the local target's, with room for LocalStack's slow first invocations."""
    return boto3.client(
        service,
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 (LocalStack takes any key)
        config=Config(retries={"max_attempts": 3}, read_timeout=600),
    )


def init_hook_report(config: StackConfig) -> list[str]:
    """Names of ready.d scripts LocalStack reports as failed."""
    url = f"{config.endpoint_url}/_localstack/init/ready"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            document = json.loads(response.read())
    except (OSError, urllib.error.URLError, ValueError):
        return []
    return [
        str(script.get("name"))
        for script in document.get("scripts", [])
        if script.get("state") == "ERROR"
    ]


def migrate(lambda_client: Any, name: str, timeout: float = 600) -> str:
    """Invokes the migration until it succeeds (image pull, database start)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            response = lambda_client.invoke(FunctionName=name)
            payload = response["Payload"].read().decode()
            if not response.get("FunctionError"):
                return str(payload)
            last = payload
        except (BotoCoreError, ClientError) as error:  # e.g. still Pending
            last = str(error)
        time.sleep(5)
    raise DeployError(
        f"the database migration ({name}) kept failing for {timeout:.0f} s: "
        f"{last[:2000]}\nSee `docker compose -p {PROJECT} logs localstack`."
    )


def api_id_of(outputs: Mapping[str, str]) -> str:
    """The REST API's id, the first label of the ApiUrl output's host (the
    template builds it from `${Api}`), which LocalStack and AWS report alike."""
    host = urllib.parse.urlsplit(outputs.get("ApiUrl", "")).hostname or ""
    if ".execute-api." not in host:
        raise DeployError(
            f"the stack's ApiUrl output {outputs.get('ApiUrl')!r} names no API"
        )
    return host.split(".", 1)[0]


def endpoints_for(
    config: StackConfig, api_id: str, outputs: Mapping[str, str]
) -> Endpoints:
    edge = config.edge_port
    return Endpoints(
        dashboard_url=f"{website_origin(config)}/",
        api_url=f"http://{api_id}.execute-api.localhost.localstack.cloud:{edge}/{STAGE}/",
        api_url_path_style=f"{config.endpoint_url}/_aws/execute-api/{api_id}/{STAGE}/",
        mqtt_url=f"mqtt://127.0.0.1:{config.mqtt_port}",
        mqtt_ws_url=f"ws://127.0.0.1:{config.mqtt_ws_port}",
        database=f"postgresql://127.0.0.1:{db_port()} "
        f"(functions: {outputs.get('DatabaseEndpoint', DB_HOST)}:"
        f"{outputs.get('DatabasePort', DB_CONTAINER_PORT)})",
        endpoint_url=config.endpoint_url,
    )


def deploy(
    config: StackConfig,
    log: Log,
    docker: Docker | None = None,
    compose: Compose | None = None,
) -> Endpoints:
    started = time.monotonic()
    (docker or Docker()).check(os.environ)
    compose = compose or Compose(config)
    template = load_template(config.template_path)
    frontend_dir = config.repo_dir / "frontend"
    with_dashboard = config.dashboard and (frontend_dir / "package.json").exists()
    if with_dashboard:
        frontend.find_npm()

    log("building functions and layer (the layer also packed into each function)")
    built = Builder(config.template_path.parent, config.build_dir).build(template)
    artifacts = with_layers_inlined(built, localstack_dir(config) / "artifacts")
    dist = (
        frontend.build_dashboard(frontend_dir, config.build_dir, log)
        if with_dashboard
        else None
    )
    passwords = credentials.load_or_create(config.credentials_path)
    bucket = artifact_bucket(config)
    locations = {
        a.logical_id: {"Bucket": bucket, "Key": artifact_key(a)} for a in artifacts
    }
    packaged = point_at_artifacts(template, locations)
    parameters = stack_parameters(config, template, db_password(config))
    dashboard_config = {
        "apiUrl": f"{config.endpoint_url}/_aws/execute-api/@API_ID@/{STAGE}/",
        "mqttUrl": f"ws://127.0.0.1:{config.mqtt_ws_port}",
        "mqttUsername": "dashboard",
        "mqttPassword": passwords["dashboard"],
        "target": config.target,
    }
    write_settings(config, passwords)
    write_bundle(config, packaged, parameters, artifacts, dist, dashboard_config)

    if "localstack" not in compose.running_services():
        check_ports_free(
            "127.0.0.1",
            {
                "EDGE_PORT": config.edge_port,
                "MQTT_PORT": config.mqtt_port,
                "MQTT_WS_PORT": config.mqtt_ws_port,
                "DB_PORT": db_port(),
            },
        )
    log("starting LocalStack, PostgreSQL and Mosquitto (docker compose); "
        "LocalStack's init hook deploys the stack")  # fmt: skip
    compose.run("up", "--detach", "--wait", "--wait-timeout", "1200",
                "localstack", "postgres", "mosquitto")  # fmt: skip
    for failed in init_hook_report(config):
        log(f"  warning: LocalStack's init hook {failed} failed; deploying from here")

    log("deploying template.yaml into LocalStack (CloudFormation)")
    s3 = aws_client(config, "s3")
    cfn = aws_client(config, "cloudformation")
    uploaded = upload_artifacts(s3, bucket, list(artifacts), config.region)
    if uploaded != locations:
        raise DeployError(f"artifact keys differ from the bundle's: {uploaded}")
    deploy_stack(cfn, config.stack_name, packaged, parameters,
                 progress=lambda line: log(f"  {line}"), timeout=900)  # fmt: skip
    outputs = stack_outputs(cfn, config.stack_name)
    api_id = api_id_of(outputs)

    log("migrating the database")
    log(f"  {migrate(aws_client(config, 'lambda'), outputs['MigrateFunctionName'])}")
    endpoints = endpoints_for(config, str(api_id), outputs)
    if dist is not None:
        document = json.loads(
            json.dumps(dashboard_config).replace("@API_ID@", str(api_id))
        )
        count = frontend.upload_dashboard(
            s3, outputs["DashboardBucketName"], dist, document
        )
        log(f"uploaded the dashboard ({count} files)")
    (config.state_dir / "endpoints.json").write_text(
        json.dumps(dataclasses.asdict(endpoints), indent=2)
    )

    log(f"starting the rules engine and the simulator ({config.machines} machines)")
    compose.run("up", "--detach", "--build", "--wait", "--wait-timeout", "600",
                "rules-engine", "simulator")  # fmt: skip
    local._wait_for_readings(endpoints.api_url_path_style, log, timeout=300)
    log(f"ready in {time.monotonic() - started:.1f} s")
    return endpoints


def down(config: StackConfig, wipe: bool = False) -> None:
    """Stops the containers; `wipe` also deletes their volumes (the readings)."""
    compose = Compose(config)
    if not compose.env_file.exists():
        return
    compose.run("down", *(["--volumes"] if wipe else []), timeout=300)
