"""The dashboard's production build and the JavaScript it makes a browser load.

Initial JavaScript is what `dist/index.html` loads before the app can run: its
module entry script, any `<link rel="modulepreload">`, and every chunk those
import statically (`import ... from "./x.js"`), followed transitively. Chunks
reached only through `import("./x.js")` are lazy; the ones the overview asks
for right after it starts (the MQTT client) are shown apart, since a browser
fetches them on every visit too, just after the first render.
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from benchsuite.stack import REPO_DIR, BenchError

FRONTEND_DIR = REPO_DIR / "frontend"

_ENTRY = re.compile(r"<script\b[^>]*\btype=\"module\"[^>]*\bsrc=\"([^\"]+)\"")
_PRELOAD = re.compile(r"<link\b[^>]*\brel=\"modulepreload\"[^>]*\bhref=\"([^\"]+)\"")
_STATIC = re.compile(r"(?:\bfrom|\bimport)\s*[\"'](\.{1,2}/[^\"']+\.js)[\"']")
_DYNAMIC = re.compile(r"\bimport\(\s*[\"'`](\.{1,2}/[^\"'`]+\.js)[\"'`]\s*\)")


@dataclass
class ScriptFile:
    path: str  # relative to dist/
    raw: int
    gzip: int
    how: str  # entry, modulepreload, static import, lazy


@dataclass
class Bundle:
    initial: list[ScriptFile] = field(default_factory=list)
    lazy: list[ScriptFile] = field(default_factory=list)
    build_seconds: float = 0.0

    @property
    def initial_gzip(self) -> int:
        return sum(f.gzip for f in self.initial)

    @property
    def initial_raw(self) -> int:
        return sum(f.raw for f in self.initial)

    def sizes(self, paths: list[str]) -> tuple[int, int]:
        """Raw and gzip bytes of these dist paths (files not found count 0)."""
        known = {f.path: f for f in self.initial + self.lazy}
        chosen = [known[p] for p in paths if p in known]
        return sum(f.raw for f in chosen), sum(f.gzip for f in chosen)


def build(frontend_dir: Path = FRONTEND_DIR) -> None:
    """`npm run build` (type check, then Vite) into frontend/dist."""
    npm = shutil.which("npm")
    if npm is None:
        raise BenchError("npm is not on PATH: install Node.js 20+ to build frontend/")
    result = subprocess.run(
        [npm, "run", "build"],
        cwd=frontend_dir,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(
            f"`npm run build` failed in {frontend_dir}:\n{result.stdout[-3000:]}"
            f"\n{result.stderr[-3000:]}"
        )


def gzip_size(data: bytes) -> int:
    """Bytes after gzip at level 9, as a static host or CDN would send them."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def analyse(dist: Path) -> Bundle:
    """Sort every JavaScript file of the build into initial and lazy."""
    index = dist / "index.html"
    if not index.exists():
        raise BenchError(f"{index} is missing: build the dashboard first")
    html = index.read_text()
    bundle = Bundle()
    seen: dict[str, str] = {}
    queue = [(_normalise(src), "entry") for src in _ENTRY.findall(html)]
    queue += [(_normalise(href), "modulepreload") for href in _PRELOAD.findall(html)]
    lazy_seen: set[str] = set()
    while queue:
        path, how = queue.pop(0)
        if path in seen:
            continue
        seen[path] = how
        text = (dist / path).read_text(errors="replace")
        base = Path(path).parent
        for target in _STATIC.findall(text):
            queue.append((_normalise(str(base / target)), "static import"))
        lazy_seen.update(_normalise(str(base / t)) for t in _DYNAMIC.findall(text))
    for path, how in seen.items():
        data = (dist / path).read_bytes()
        bundle.initial.append(ScriptFile(path, len(data), gzip_size(data), how))
    for script in sorted(dist.rglob("*.js")):
        path = script.relative_to(dist).as_posix()
        if path not in seen:
            data = script.read_bytes()
            how = "lazy (import())" if path in lazy_seen else "lazy (page asset)"
            bundle.lazy.append(ScriptFile(path, len(data), gzip_size(data), how))
    return bundle


def _normalise(url: str) -> str:
    """dist-relative path of a `./assets/x.js`-style URL."""
    parts: list[str] = []
    for part in url.split("?")[0].split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)
