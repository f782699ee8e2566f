"""When the deploy installs and builds the dashboard (npm is recorded by a
script standing in for it: what is tested is the deploy's skip logic)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deploy.frontend import NPM_CI_STAMP, build_dashboard

pytestmark = pytest.mark.unit

FAKE_NPM = """#!/bin/sh
echo "$@" >> "$NPM_CALLS"
case "$1" in
  ci) mkdir -p node_modules;;
  run) mkdir -p dist;;
esac
"""


@pytest.fixture
def frontend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "frontend"
    folder.mkdir()
    (folder / "package.json").write_text('{"name": "x"}')
    (folder / "package-lock.json").write_text('{"lockfileVersion": 3}')
    tools = tmp_path / "bin"
    tools.mkdir()
    npm = tools / "npm"
    npm.write_text(FAKE_NPM)
    npm.chmod(0o755)
    node = tools / "node"
    node.write_text("#!/bin/sh\n")
    node.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("NPM_CALLS", str(tmp_path / "calls"))
    return folder


def calls(frontend: Path) -> list[str]:
    path = frontend.parent / "calls"
    return path.read_text().splitlines() if path.exists() else []


def test_a_new_state_folder_reuses_the_installed_packages(
    frontend: Path, tmp_path: Path
) -> None:
    build_dashboard(frontend, tmp_path / "state-1", lambda _line: None)
    build_dashboard(frontend, tmp_path / "state-2", lambda _line: None)

    assert calls(frontend) == [
        "ci --no-audit --no-fund",
        "run build",
        "run build",  # the build's record is per state folder
    ]
    assert (frontend / NPM_CI_STAMP).exists()


def test_a_changed_lock_file_installs_again(frontend: Path, tmp_path: Path) -> None:
    build_dashboard(frontend, tmp_path / "state", lambda _line: None)
    (frontend / "package-lock.json").write_text('{"lockfileVersion": 3, "x": 1}')

    build_dashboard(frontend, tmp_path / "state", lambda _line: None)

    assert calls(frontend).count("ci --no-audit --no-fund") == 2
