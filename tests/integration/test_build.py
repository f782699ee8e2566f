"""The local build (`python -m deploy up` builds like `sam build`): what goes
into the API function's zip."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from deploy.build import Builder, load_template
from deploy.config import REPO_DIR

pytestmark = pytest.mark.integration


def test_the_api_zip_holds_chalices_runtime_without_its_cli_dependencies(
    tmp_path: Path,
) -> None:
    template = load_template(REPO_DIR / "template.yaml")
    only_api = {
        **template,
        "Resources": {"ApiFunction": template["Resources"]["ApiFunction"]},
    }

    (artifact,) = Builder(REPO_DIR, tmp_path).build(only_api)

    names = zipfile.ZipFile(artifact.zip_path).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert {"app.py", "chalicelib", "chalice"} <= tops
    assert "chalice/app.py" in names
    assert not tops & {"botocore", "pip", "setuptools", "click"}
    assert artifact.zip_path.stat().st_size < 1_000_000


def test_pip_no_deps_is_part_of_what_decides_a_rebuild(tmp_path: Path) -> None:
    template = load_template(REPO_DIR / "template.yaml")
    api = template["Resources"]["ApiFunction"]
    without = {**api, "Metadata": {}}
    builder = Builder(REPO_DIR, tmp_path)

    first = builder.build({"Resources": {"ApiFunction": api}})[0]
    again = builder.build({"Resources": {"ApiFunction": api}})[0]
    changed = builder.build({"Resources": {"ApiFunction": without}})[0]

    assert first.rebuilt
    assert not again.rebuilt
    assert changed.rebuilt
    assert "botocore/__init__.py" in zipfile.ZipFile(changed.zip_path).namelist()
