"""The `localcloud` command line: start (detached), status, stop, help."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.localcloud

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "infrastructure" / "localcloud")
    return subprocess.run(
        [sys.executable, "-m", "localcloud", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
        check=False,
    )


def test_help_explains_every_start_option() -> None:
    result = run_cli("start", "--help")

    assert result.returncode == 0
    for option in ("--host", "--port", "--state-dir", "--detach", "--max-concurrency"):
        assert option in result.stdout
    assert "LOCALCLOUD_STATE_DIR" in result.stdout


def test_status_without_a_running_cloud_exits_3(tmp_path: Path) -> None:
    result = run_cli("status", "--state-dir", str(tmp_path))

    assert result.returncode == 3
    assert "not running" in result.stdout


def test_detached_start_then_status_then_stop(tmp_path: Path) -> None:
    started = run_cli("start", "--detach", "--port", "0", "--state-dir", str(tmp_path))
    try:
        assert started.returncode == 0, started.stderr
        assert "localcloud running at http://127.0.0.1:" in started.stdout
        pid = json.loads((tmp_path / "localcloud.pid").read_text())["pid"]

        status = run_cli("status", "--state-dir", str(tmp_path))
        assert status.returncode == 0
        assert "running at http://127.0.0.1:" in status.stdout
        assert "lambda: running" in status.stdout

        again = run_cli(
            "start", "--detach", "--port", "0", "--state-dir", str(tmp_path)
        )
        assert again.returncode == 1
        assert "already running" in again.stderr
    finally:
        stopped = run_cli("stop", "--state-dir", str(tmp_path))

    assert stopped.returncode == 0
    assert f"stopped (pid {pid})" in stopped.stdout
    assert not (tmp_path / "localcloud.pid").exists()
    assert "local cloud stopped" in (tmp_path / "localcloud.log").read_text()


def test_start_on_a_busy_port_names_the_port_and_the_fix(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        result = run_cli("start", "--port", str(port), "--state-dir", str(tmp_path))

    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr


def test_a_bad_setting_in_the_environment_is_named(tmp_path: Path) -> None:
    env_result = subprocess.run(
        [sys.executable, "-m", "localcloud", "status", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "LOCALCLOUD_PORT": "many"},
        cwd=ROOT,
        check=False,
        timeout=60,
    )

    assert env_result.returncode == 2
    assert "LOCALCLOUD_PORT='many' is not a number" in env_result.stderr
