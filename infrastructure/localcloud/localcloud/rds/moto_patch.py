"""Hooks the RDS data plane into moto's RDS backend.

CloudFormation creates DB instances by calling moto's backend directly, not
through HTTP, so listening to API requests would miss them. Instead the
backend's instance operations are wrapped: moto validates and records as
always, then the active `RdsService` is told, before the response is written
(so CreateDBInstance answers `creating`, StopDBInstance `stopping`, like RDS).

Also patched:
- `DBInstance.address`: 127.0.0.1 for instances with a local server, so
  DescribeDBInstances and `Fn::GetAtt Endpoint.Address` give a reachable host;
- `DBInstance.create_from_cloudformation_json`: waits until the instance is
  available, as CloudFormation does on AWS before it moves on to resources that
  depend on it (and takes the template's `Port`, since moto's defaults to 3306).
- `reboot_db_instance` refuses an instance that is not available, like RDS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from localcloud.rds.instances import RdsService

_lock = threading.Lock()
_active: list[RdsService] = []  # the service of the running cloud (last installed)
_originals: dict[str, Any] = {}
_cloudformation = threading.local()  # the template's own Port while CFN creates


def _service() -> RdsService | None:
    return _active[-1] if _active else None


def _create_db_instance(self: Any, db_kwargs: dict[str, Any]) -> Any:
    service = _service()
    if service is not None:
        service.check_create(db_kwargs)
    database = _originals["create_db_instance"](self, db_kwargs)
    if service is not None:
        requested = getattr(_cloudformation, "port", db_kwargs.get("port"))
        service.created(database, int(requested) if requested else None)
    return database


def _stop_db_instance(self: Any, db_instance_identifier: str, *args: Any) -> Any:
    database = _originals["stop_db_instance"](self, db_instance_identifier, *args)
    service = _service()
    if service is not None:
        service.stopped(database)
    return database


def _start_db_instance(self: Any, db_instance_identifier: str) -> Any:
    database = _originals["start_db_instance"](self, db_instance_identifier)
    service = _service()
    if service is not None:
        service.started(database)
    return database


def _reboot_db_instance(self: Any, db_instance_identifier: str) -> Any:
    from moto.rds.exceptions import InvalidDBInstanceStateError

    database = _originals["reboot_db_instance"](self, db_instance_identifier)
    if database.status != "available":
        raise InvalidDBInstanceStateError(db_instance_identifier, "stop")
    service = _service()
    if service is not None:
        service.rebooted(database)
    return database


def _delete_db_instance(
    self: Any, db_instance_identifier: str, *args: Any, **kw: Any
) -> Any:
    database = _originals["delete_db_instance"](
        self, db_instance_identifier, *args, **kw
    )
    service = _service()
    if service is not None:
        service.deleted(database)
    return database


def _modify_db_instance(
    self: Any, db_instance_identifier: str, db_kwargs: dict[str, Any]
) -> Any:
    database = _originals["modify_db_instance"](self, db_instance_identifier, db_kwargs)
    service = _service()
    if service is not None:
        service.modified(database, db_kwargs)
    return database


_BACKEND_PATCHES: dict[str, Callable[..., Any]] = {
    "create_db_instance": _create_db_instance,
    "stop_db_instance": _stop_db_instance,
    "start_db_instance": _start_db_instance,
    "reboot_db_instance": _reboot_db_instance,
    "delete_db_instance": _delete_db_instance,
    "modify_db_instance": _modify_db_instance,
}


def _patch_model() -> None:
    from moto.rds.models import DBInstance

    original_address: Any = DBInstance.__dict__["address"]
    _originals["address"] = original_address

    def address(self: Any) -> str:
        local: str | None = getattr(self, "_localcloud_address", None)
        return local if local else str(original_address.fget(self))

    DBInstance.address = property(address)  # type: ignore[assignment,method-assign]

    original_create: Any = DBInstance.__dict__[
        "create_from_cloudformation_json"
    ].__func__
    _originals["create_from_cloudformation_json"] = original_create

    def create_from_cloudformation_json(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json.get("Properties", {})
        _cloudformation.port = properties.get("Port")
        try:
            database = original_create(
                cls,
                resource_name,
                cloudformation_json,
                account_id,
                region_name,
                **kwargs,
            )
        finally:
            del _cloudformation.port
        service = _service()
        if service is not None:
            service.wait_available(database)
        return database

    DBInstance.create_from_cloudformation_json = classmethod(  # type: ignore[method-assign,assignment]
        create_from_cloudformation_json
    )


def install_rds_patches(service: RdsService) -> None:
    """Makes `service` the data plane of moto's RDS. Idempotent per service."""
    from moto.rds.models import RDSBackend

    with _lock:
        if service not in _active:
            _active.append(service)
        if _originals:
            return
        for name, function in _BACKEND_PATCHES.items():
            _originals[name] = getattr(RDSBackend, name)
            setattr(RDSBackend, name, function)
        _patch_model()


def uninstall_rds_service(service: RdsService) -> None:
    """Stops routing moto's RDS to `service` (the patches stay, inert)."""
    with _lock:
        if service in _active:
            _active.remove(service)
