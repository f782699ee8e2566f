"""Broker credentials, generated at first start and kept in the state folder.

`credentials.json` (mode 0600) holds one password per broker user; Mosquitto's
password file is derived from it with `mosquitto_passwd`, so the passwords are
never in the repository or the template. The dashboard's password ends up in
its public config.json: that user may only read (see mosquitto/acl).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

from deploy.errors import DeployError

BROKER_USERS = ("simulator", "rules-engine", "dashboard")


def load_or_create(path: Path) -> dict[str, str]:
    """The users' passwords, created (0600) on first call."""
    if path.exists():
        stored = json.loads(path.read_text())
        if all(user in stored for user in BROKER_USERS):
            return {user: str(stored[user]) for user in BROKER_USERS}
    passwords = {user: secrets.token_urlsafe(18) for user in BROKER_USERS}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(passwords, handle, indent=2)
    return passwords


def write_password_file(path: Path, passwords: dict[str, str]) -> None:
    """Mosquitto's hashed password file for the users (0600)."""
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not Path(tool).exists():
        raise DeployError(
            "mosquitto_passwd is missing: install Mosquitto (make bootstrap does)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    for user, password in passwords.items():
        subprocess.run([tool, "-b", str(path), user, password], check=True)
    path.chmod(0o600)
