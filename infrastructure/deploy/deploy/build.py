"""`sam build` for OrchestraLink, without SAM CLI and without Docker.

Each `AWS::Serverless::Function` and `AWS::Serverless::LayerVersion` of the
template is built into the state folder: its source folder copied, and the
packages of its `requirements.txt` installed beside it as Linux wheels for the
function's runtime (what Lambda runs, on AWS and in the local cloud; pip picks
manylinux wheels with --platform, so a macOS laptop builds the same artifact).
A build is skipped when the hash of its inputs (source files, requirements,
runtime) has not changed. The result is a zip per resource, deterministic
(fixed timestamps and order), so unchanged code keeps its S3 key and
CloudFormation sees nothing to update.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

from deploy.errors import DeployError

logger = logging.getLogger(__name__)

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_NAMES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".chalice"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}
_PLATFORMS = {
    "x86_64": [
        "manylinux2014_x86_64",
        "manylinux_2_17_x86_64",
        "manylinux_2_28_x86_64",
    ],
    "arm64": [
        "manylinux2014_aarch64",
        "manylinux_2_17_aarch64",
        "manylinux_2_28_aarch64",
    ],
}


@dataclass(frozen=True)
class Artifact:
    """One built function or layer: its zip and the hash naming it."""

    logical_id: str
    kind: str  # "function" or "layer"
    source: Path
    zip_path: Path
    sha256: str
    rebuilt: bool


def load_template(path: Path) -> dict[str, Any]:
    """The template as plain JSON-able data (intrinsic tags become dicts)."""
    try:
        node = cfn_yaml.loads(path.read_text())
    except Exception as error:
        raise DeployError(
            f"{path} is not a valid CloudFormation template: {error}; "
            "run `make check` (cfn-lint) to see where"
        ) from error
    data: dict[str, Any] = json.loads(json.dumps(node))
    return data


def _source_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if any(part in _SKIP_NAMES for part in path.relative_to(root).parts):
            continue
        if path.is_file() and path.suffix not in _SKIP_SUFFIXES:
            yield path


def inputs_hash(
    source: Path, runtime: str, architecture: str, no_deps: bool = False
) -> str:
    digest = hashlib.sha256(f"{runtime}|{architecture}|{no_deps}|v1".encode())
    for path in _source_files(source):
        digest.update(str(path.relative_to(source)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _pip_install(
    requirements: Path, target: Path, runtime: str, arch: str, no_deps: bool = False
) -> None:
    version = runtime.removeprefix("python")
    command = [
        sys.executable, "-m", "pip", "install", "--quiet",
        "--disable-pip-version-check", "--no-compile",
        "--target", str(target), "--requirement", str(requirements),
        "--implementation", "cp", "--python-version", version, "--only-binary=:all:",
        "--upgrade",
    ]  # fmt: skip
    for platform in _PLATFORMS[arch]:
        command += ["--platform", platform]
    if no_deps:
        command.append("--no-deps")
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise DeployError(
            f"installing {requirements} for {runtime}/{arch} failed:\n"
            f"{result.stderr.strip()[-2000:]}\n"
            "Check the pins in that file exist as Linux wheels on PyPI."
        )


def _has_requirements(path: Path) -> bool:
    if not path.exists():
        return False
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return any(lines)


def _add_tree(archive: zipfile.ZipFile, root: Path, prefix: str) -> None:
    """Add a folder's files, sorted, with fixed timestamps (reproducible)."""
    for path in _source_files(root):
        name = prefix + str(path.relative_to(root))
        info = zipfile.ZipInfo(name, _ZIP_EPOCH)
        info.external_attr = (0o755 if path.stat().st_mode & 0o111 else 0o644) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, path.read_bytes())


def _dependencies_zip(
    requirements: Path,
    prefix: str,
    runtime: str,
    arch: str,
    cache_dir: Path,
    no_deps: bool = False,
) -> Path | None:
    """A zip of the installed requirements, cached by what determines it.

    Installing wheels is the slow part of a build; code changes (make watch)
    reuse this zip and only append their own files to a copy of it.
    """
    if not _has_requirements(requirements):
        return None
    key = hashlib.sha256(
        f"{runtime}|{arch}|{prefix}|{no_deps}|".encode() + requirements.read_bytes()
    ).hexdigest()[:16]
    cached = cache_dir / f"deps-{key}.zip"
    if cached.exists():
        return cached
    logger.info("installing %s for %s (%s)", requirements, runtime, arch)
    install_dir = cache_dir / f"deps-{key}"
    shutil.rmtree(install_dir, ignore_errors=True)
    _pip_install(requirements, install_dir, runtime, arch, no_deps)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        _add_tree(archive, install_dir, prefix)
    tmp.replace(cached)
    shutil.rmtree(install_dir, ignore_errors=True)
    return cached


class Builder:
    """Builds every function and layer of a template into `build_dir`."""

    def __init__(self, repo_dir: Path, build_dir: Path) -> None:
        self.repo_dir = repo_dir
        self.build_dir = build_dir

    def build(self, template: dict[str, Any]) -> list[Artifact]:
        globals_ = template.get("Globals", {}).get("Function", {})
        artifacts = []
        for logical_id, resource in template.get("Resources", {}).items():
            kind = {
                "AWS::Serverless::Function": "function",
                "AWS::Serverless::LayerVersion": "layer",
            }.get(resource.get("Type"))
            if kind is None:
                continue
            props = resource.get("Properties", {})
            uri = props.get("CodeUri" if kind == "function" else "ContentUri")
            if not isinstance(uri, str) or uri.startswith("s3://"):
                continue
            if kind == "function":
                runtime = props.get("Runtime", globals_.get("Runtime", "python3.11"))
                arches = props.get("Architectures", globals_.get("Architectures"))
            else:
                metadata = resource.get("Metadata", {})
                runtime = (
                    metadata.get("BuildMethod")
                    or (props.get("CompatibleRuntimes") or ["python3.11"])[0]
                )
                arches = props.get("CompatibleArchitectures")
            arch = (arches or ["x86_64"])[0]
            # Metadata PipNoDeps: install requirements.txt without their own
            # dependencies (the API needs chalice's runtime module, not the
            # packaging tools its command line pulls in). `sam build` ignores it
            # and packages the full tree, which works too, only larger.
            no_deps = resource.get("Metadata", {}).get("PipNoDeps") is True
            artifacts.append(
                self._build_one(
                    logical_id, kind, self.repo_dir / uri, runtime, arch, no_deps
                )
            )
        return artifacts

    def _build_one(
        self,
        logical_id: str,
        kind: str,
        source: Path,
        runtime: str,
        arch: str,
        no_deps: bool = False,
    ) -> Artifact:
        if not source.is_dir():
            raise DeployError(f"{logical_id}: code folder {source} does not exist")
        if arch not in _PLATFORMS:
            raise DeployError(f"{logical_id}: architecture {arch} is not x86_64/arm64")
        digest = inputs_hash(source, runtime, arch, no_deps)
        zip_path = self.build_dir / f"{logical_id}.zip"
        stamp = self.build_dir / f"{logical_id}.inputs"
        if zip_path.exists() and stamp.exists() and stamp.read_text() == digest:
            sha = hashlib.sha256(zip_path.read_bytes()).hexdigest()
            return Artifact(logical_id, kind, source, zip_path, sha, rebuilt=False)

        logger.info("building %s %s (%s, %s)", kind, logical_id, runtime, arch)
        # Like `sam build` with BuildMethod python3.x, a layer's folder becomes
        # python/ in the zip: Lambda unpacks layers into /opt and puts
        # /opt/python on sys.path. A function's code sits at the zip's root.
        prefix = "python/" if kind == "layer" else ""
        deps = _dependencies_zip(
            source / "requirements.txt",
            prefix,
            runtime,
            arch,
            self.build_dir / "deps",
            no_deps,
        )
        tmp = zip_path.with_suffix(f".{os.getpid()}.tmp")  # builders may overlap
        if deps is None:
            tmp.unlink(missing_ok=True)
        else:
            shutil.copyfile(deps, tmp)
        with zipfile.ZipFile(
            tmp, "a" if deps else "w", zipfile.ZIP_DEFLATED
        ) as archive:
            _add_tree(archive, source, prefix)
        tmp.replace(zip_path)
        sha = hashlib.sha256(zip_path.read_bytes()).hexdigest()
        stamp.write_text(digest)
        return Artifact(logical_id, kind, source, zip_path, sha, rebuilt=True)
