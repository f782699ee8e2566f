"""Unpacks function code and layers from the zips moto stores, once per hash.

AWS mounts the function's zip at /var/task and merges layers into /opt; here
each code hash gets its own folder under `<state>/lambda/code/<sha>` and each
layer under `<state>/lambda/layers/<sha>`, unpacked to a temporary folder and
renamed into place, so concurrent cold starts never see half a tree. File
modes stored in the zip are kept (executables in layers stay executable).
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

from localcloud.errors import LocalCloudError

logger = logging.getLogger(__name__)


class CodeUnpackError(LocalCloudError):
    """A function's or layer's zip cannot be unpacked."""


class CodeStore:
    def __init__(self, root: Path) -> None:
        self._root = root
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def function_code(self, sha: str, zip_bytes: Callable[[], bytes]) -> Path:
        return self._unpack("code", sha, zip_bytes)

    def layer(self, sha: str, zip_bytes: Callable[[], bytes]) -> Path:
        return self._unpack("layers", sha, zip_bytes)

    def _unpack(self, kind: str, sha: str, zip_bytes: Callable[[], bytes]) -> Path:
        safe = "".join(c if c.isalnum() else "_" for c in sha) or "empty"
        target = self._root / kind / safe
        if target.is_dir():
            return target
        with self._lock:
            lock = self._locks.setdefault(f"{kind}/{safe}", threading.Lock())
        with lock:
            if target.is_dir():
                return target
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{safe}-", dir=target.parent))
            try:
                data = zip_bytes()
                if data:
                    _extract(data, staging)
                os.replace(staging, target)
            except (zipfile.BadZipFile, OSError, ValueError) as error:
                shutil.rmtree(staging, ignore_errors=True)
                raise CodeUnpackError(
                    f"cannot unpack the {kind} zip with hash {sha} into {target}: "
                    f"{error}; upload a valid zip (UpdateFunctionCode / "
                    "PublishLayerVersion)"
                ) from error
            logger.info("unpacked %s %s into %s", kind, sha[:12], target)
            return target

    def clear(self) -> None:
        """Removes every unpacked tree (after a reset of the state)."""
        with self._lock:
            for kind in ("code", "layers"):
                shutil.rmtree(self._root / kind, ignore_errors=True)


def _extract(data: bytes, destination: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        root = destination.resolve()
        for info in archive.infolist():
            path = (destination / info.filename).resolve()
            if root not in path.parents and path != root:
                raise ValueError(f"zip entry {info.filename!r} escapes the folder")
            archive.extract(info, destination)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                path.chmod(mode | 0o400)
