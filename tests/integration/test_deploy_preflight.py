"""`make deploy-local` refuses bad configurations before anything starts, and
says what to do: a taken port names its process, a missing Node says how to
install it, a broken template says where to look."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.ports import free_port
from tests.fixtures.stack import REPO_DIR, stack_environment

pytestmark = pytest.mark.integration


def deploy_up(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy", "up"],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_taken_port_is_reported_with_the_process_holding_it(
    tmp_path: Path,
) -> None:
    env = stack_environment(tmp_path / "state")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", int(env["MQTT_PORT"])))
        holder.listen()

        result = deploy_up(env)

    assert result.returncode == 1
    assert f"MQTT_PORT={env['MQTT_PORT']} on 127.0.0.1 is held by" in result.stderr
    assert f"pid {os.getpid()}" in result.stderr
    assert "nothing was started" in result.stderr
    assert not (tmp_path / "state" / "supervisord.pid").exists()


def test_a_missing_node_says_how_to_install_it(tmp_path: Path) -> None:
    if not (REPO_DIR / "frontend" / "package.json").exists():
        pytest.fail("the dashboard (frontend/package.json) is part of the stack")
    env = stack_environment(tmp_path / "state")
    # A PATH with Python's folder but none holding node or npm.
    env["PATH"] = str(Path(sys.executable).parent)

    result = deploy_up(env)

    assert result.returncode == 1
    assert "Node.js and npm are needed to build the dashboard" in result.stderr
    assert "apt-get install nodejs npm" in result.stderr


def test_a_broken_template_is_refused_with_where_to_look(tmp_path: Path) -> None:
    broken = tmp_path / "template.yaml"
    broken.write_text("Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n   bad: [\n")
    env = stack_environment(tmp_path / "state")
    env["ORCHESTRALINK_TEMPLATE"] = str(broken)

    result = deploy_up(env)

    assert result.returncode == 1
    assert f"{broken} is not a valid CloudFormation template" in result.stderr
    assert "make check" in result.stderr


def test_a_port_given_twice_is_refused(tmp_path: Path) -> None:
    env = stack_environment(tmp_path / "state")
    port = str(free_port())
    env["EDGE_PORT"] = env["MQTT_PORT"] = port

    result = deploy_up(env)

    assert result.returncode == 1
    assert "two services were given the same port" in result.stderr
