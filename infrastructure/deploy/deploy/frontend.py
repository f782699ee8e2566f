"""The dashboard's production build, and its upload to the website bucket.

`npm ci` runs when the lock file changed, `npm run build` when any source did;
both are skipped otherwise. The upload sends each file with its content type,
plus `config.json`, which the app reads at runtime, so one build serves every
target.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import shutil
import subprocess
from pathlib import Path
from typing import Any

from deploy.errors import DeployError

_SOURCES = ("src", "public", "index.html", "package.json", "package-lock.json",
            "vite.config.ts", "tsconfig.json", "tsconfig.app.json")  # fmt: skip


NPM_CI_STAMP = Path("node_modules") / ".orchestralink-npm-ci"


def _hash(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for root in paths:
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if path.is_file():
                digest.update(str(path).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def find_npm() -> str:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise DeployError(
            "Node.js and npm are needed to build the dashboard and were not found: "
            "install Node.js 20 or newer (Debian/Ubuntu: apt-get install nodejs npm; "
            "macOS: brew install node), then run the command again"
        )
    return npm


def build_dashboard(frontend_dir: Path, stamp_dir: Path, log: Any) -> Path | None:
    """Build into frontend/dist; returns it, or None without a frontend."""
    if not (frontend_dir / "package.json").exists():
        return None
    npm = find_npm()
    stamp_dir.mkdir(parents=True, exist_ok=True)
    lock_hash = _hash(
        [frontend_dir / "package-lock.json", frontend_dir / "package.json"]
    )
    # The record of the last `npm ci` lives in the folder it describes, so every
    # state folder (tests, benchmarks) shares it: a new one does not reinstall
    # the packages under whoever else is using them.
    lock_stamp = frontend_dir / NPM_CI_STAMP
    if not lock_stamp.exists() or lock_stamp.read_text() != lock_hash:
        log("installing the dashboard's packages (npm ci)")
        _run([npm, "ci", "--no-audit", "--no-fund"], frontend_dir)
        lock_stamp.write_text(lock_hash)
    source_hash = _hash([frontend_dir / name for name in _SOURCES])
    build_stamp = stamp_dir / "dashboard.inputs"
    dist = frontend_dir / "dist"
    if (
        dist.exists()
        and build_stamp.exists()
        and build_stamp.read_text() == source_hash
    ):
        return dist
    log("building the dashboard (npm run build)")
    _run([npm, "run", "build"], frontend_dir)
    build_stamp.write_text(source_hash)
    return dist


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-3000:]
        raise DeployError(f"`{' '.join(command[1:])}` failed in {cwd}:\n{output}")


def upload_dashboard(s3: Any, bucket: str, dist: Path, config: dict[str, Any]) -> int:
    """Upload the build and config.json; returns the number of files sent."""
    count = 0
    for path in sorted(dist.rglob("*")):
        if not path.is_file():
            continue
        key = str(path.relative_to(dist))
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        # index.html and config.json must never be cached: they name the assets
        # and endpoints of the current deploy; hashed assets can be cached forever.
        cache = "no-cache" if key == "index.html" else "public, max-age=31536000"
        s3.put_object(
            Bucket=bucket, Key=key, Body=path.read_bytes(),
            ContentType=content_type, CacheControl=cache,
        )  # fmt: skip
        count += 1
    s3.put_object(
        Bucket=bucket,
        Key="config.json",
        Body=json.dumps(config, indent=2).encode(),
        ContentType="application/json",
        CacheControl="no-cache",
    )
    return count + 1
