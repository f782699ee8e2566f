"""The machine catalog: machine types, their parameters, units and thresholds.

The catalog is data (`catalog.toml` next to this module, or the file named by the
environment variable ORCHESTRALINK_CATALOG) so that adding a parameter is one edit
that the simulator, ingestion, the API and the dashboard all pick up. This module
loads and validates that file and answers the one question everybody asks of it:
is this value NORMAL, WARNING or CRITICAL?

Classification is strict: a reading is CRITICAL when it is strictly above
`critical_high` or strictly below `critical_low`, WARNING when strictly beyond a
warning threshold, NORMAL otherwise (so a drill at exactly 1000 °C is still WARNING,
at 1000.1 °C it is CRITICAL, as "critical above 1000 °C" says).

Errors (all derive from `orchestralink.errors.OrchestraLinkError`)::

    CatalogError
     ├── InvalidCatalogError      the file is missing, not TOML, or breaks a rule
     ├── UnknownMachineTypeError  a machine type the catalog does not define
     ├── UnknownParameterError    a parameter the machine type does not report
     └── InvalidValueError        classify() given NaN or infinity
"""

from __future__ import annotations

import difflib
import math
import os
import re
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from orchestralink.errors import OrchestraLinkError

__all__ = [
    "CATALOG_ENV",
    "DEFAULT_CATALOG_PATH",
    "Catalog",
    "CatalogError",
    "InvalidCatalogError",
    "InvalidValueError",
    "MachineType",
    "Parameter",
    "Status",
    "UnknownMachineTypeError",
    "UnknownParameterError",
    "clear_catalog_cache",
    "load_catalog",
    "parse_catalog",
]

Status = Literal["NORMAL", "WARNING", "CRITICAL"]

CATALOG_ENV = "ORCHESTRALINK_CATALOG"
DEFAULT_CATALOG_PATH = Path(__file__).with_name("catalog.toml")

# Names become MQTT topic levels and JSON values; keep them plain.
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,62}$")
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,15}$")
# machine/{id}/telemetry carries batch messages, so no parameter may be called that.
_RESERVED_PARAMETER_NAMES = frozenset({"telemetry"})

_TOP_LEVEL_KEYS = ("machine_types",)
_MACHINE_TYPE_KEYS = ("id_prefix", "description", "parameters")
_REQUIRED_PARAMETER_KEYS = ("unit", "normal_min", "normal_max", "drift", "noise")
_OPTIONAL_PARAMETER_KEYS = (
    "warning_low",
    "warning_high",
    "critical_low",
    "critical_high",
    "reversion",
    "decimals",
    "description",
)
_PARAMETER_KEYS = _REQUIRED_PARAMETER_KEYS + _OPTIONAL_PARAMETER_KEYS
_DEFAULT_REVERSION = 0.05
_DEFAULT_DECIMALS = 2
_MAX_DECIMALS = 6


class CatalogError(OrchestraLinkError):
    """Base class of the catalog's errors."""


class InvalidCatalogError(CatalogError):
    """The catalog file cannot be used; the message names the key and the fix."""


class UnknownMachineTypeError(CatalogError, LookupError):
    """A machine type name that the catalog does not define."""


class UnknownParameterError(CatalogError, LookupError):
    """A parameter name that the machine type does not report."""


class InvalidValueError(CatalogError, ValueError):
    """A reading that is not a finite number cannot be classified."""


@dataclass(frozen=True)
class Parameter:
    """One measured quantity of a machine type, with its limits and motion."""

    name: str
    unit: str
    normal_min: float
    normal_max: float
    warning_low: float | None
    warning_high: float | None
    critical_low: float | None
    critical_high: float | None
    drift: float
    noise: float
    reversion: float = _DEFAULT_REVERSION
    decimals: int = _DEFAULT_DECIMALS
    description: str = ""

    def classify(self, value: float) -> Status:
        """Return the status of a reading of this parameter."""
        threshold = self.threshold_for(value)
        if threshold is None:
            return "NORMAL"
        if threshold == self.critical_high and value > threshold:
            return "CRITICAL"
        if threshold == self.critical_low and value < threshold:
            return "CRITICAL"
        return "WARNING"

    def threshold_for(self, value: float) -> float | None:
        """Return the most severe threshold the value crosses, or None if NORMAL.

        Alerts quote this number ("Temperature 1012.0 °C above 1000.0"), which is
        why it is a separate question from `classify`.
        """
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidValueError(
                f"cannot classify {value!r} for parameter {self.name!r}: "
                "a reading must be a finite number"
            )
        if self.critical_high is not None and value > self.critical_high:
            return self.critical_high
        if self.critical_low is not None and value < self.critical_low:
            return self.critical_low
        if self.warning_high is not None and value > self.warning_high:
            return self.warning_high
        if self.warning_low is not None and value < self.warning_low:
            return self.warning_low
        return None

    @property
    def normal_centre(self) -> float:
        """The middle of the normal range, where the simulator's values settle."""
        return (self.normal_min + self.normal_max) / 2.0


@dataclass(frozen=True)
class MachineType:
    """A kind of machine: how its ids start and which parameters it reports."""

    name: str
    id_prefix: str
    parameters: dict[str, Parameter]
    description: str = ""

    def parameter(self, name: str) -> Parameter:
        """Return the named parameter or raise UnknownParameterError."""
        try:
            return self.parameters[name]
        except KeyError:
            known = ", ".join(sorted(self.parameters))
            raise UnknownParameterError(
                f"unknown parameter {name!r} for machine type {self.name!r}; "
                f"known parameters: {known}"
            ) from None


@dataclass(frozen=True)
class Catalog:
    """Every machine type, by name, in the order the file lists them."""

    machine_types: dict[str, MachineType]
    source: Path | None = None

    def machine_type(self, name: str) -> MachineType:
        """Return the named machine type or raise UnknownMachineTypeError."""
        try:
            return self.machine_types[name]
        except KeyError:
            known = ", ".join(self.machine_types)
            raise UnknownMachineTypeError(
                f"unknown machine type {name!r}; known machine types: {known}"
            ) from None

    def parameter(self, machine_type: str, name: str) -> Parameter:
        """Return a machine type's parameter; raises the Unknown*Error that fits."""
        return self.machine_type(machine_type).parameter(name)

    def parameter_names(self) -> list[str]:
        """Every parameter name reported by at least one machine type, sorted."""
        return sorted({p for t in self.machine_types.values() for p in t.parameters})

    def machine_type_for_id(self, machine_id: str) -> MachineType:
        """Return the type whose id prefix starts `machine_id` ("drill-001")."""
        prefix = machine_id.split("-", 1)[0]
        for machine_type in self.machine_types.values():
            if machine_type.id_prefix == prefix:
                return machine_type
        prefixes = ", ".join(t.id_prefix for t in self.machine_types.values())
        raise UnknownMachineTypeError(
            f"machine id {machine_id!r} starts with no known id prefix; "
            f"ids look like '<prefix>-001' with prefix one of: {prefixes}"
        )


_cache: dict[tuple[Path, int, int], Catalog] = {}
_cache_lock = threading.Lock()


def load_catalog(path: Path | None = None) -> Catalog:
    """Load and validate a catalog file, cached per path.

    With no path, the file named by ORCHESTRALINK_CATALOG is used if that variable
    is set, else the catalog shipped with the package. The cache key includes the
    file's modification time and size, so an edited file is read again.
    """
    if path is None:
        override = os.environ.get(CATALOG_ENV, "").strip()
        path = Path(override) if override else DEFAULT_CATALOG_PATH
    path = path.expanduser().resolve()

    try:
        stat = path.stat()
    except OSError as exc:
        raise InvalidCatalogError(
            f"cannot read the machine catalog {str(path)!r}: {exc.strerror}; "
            f"point {CATALOG_ENV} at an existing TOML file or unset it"
        ) from exc

    key = (path, stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidCatalogError(
            f"cannot read the machine catalog {str(path)!r}: {exc}; "
            "it must be a UTF-8 TOML file"
        ) from exc
    catalog = parse_catalog(text, source=path)

    with _cache_lock:
        _cache[key] = catalog
    return catalog


def clear_catalog_cache() -> None:
    """Forget every loaded catalog (tests that rewrite one file in place)."""
    with _cache_lock:
        _cache.clear()


def parse_catalog(text: str, source: Path | None = None) -> Catalog:
    """Parse and validate catalog TOML text; errors name the file and the key."""
    where = str(source) if source is not None else "<catalog>"
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidCatalogError(
            f"{where}: not valid TOML ({exc}); fix the syntax at that position"
        ) from exc
    return _Validator(where).catalog(document, source)


class _Validator:
    """Turns the parsed TOML document into a Catalog, one rule at a time."""

    def __init__(self, where: str) -> None:
        self._where = where

    def fail(self, key: str, message: str) -> InvalidCatalogError:
        return InvalidCatalogError(f"{self._where}: {key}: {message}")

    def catalog(self, document: dict[str, Any], source: Path | None) -> Catalog:
        self._no_unknown_keys("(top level)", document, _TOP_LEVEL_KEYS)
        tables = document.get("machine_types")
        if not isinstance(tables, dict) or not tables:
            raise self.fail(
                "machine_types",
                "no machine types defined; add at least one "
                "[machine_types.<Name>] table with id_prefix and parameters",
            )

        machine_types = {
            name: self._machine_type(name, table) for name, table in tables.items()
        }
        self._prefixes_unique(machine_types)
        self._units_consistent(machine_types)
        return Catalog(machine_types=machine_types, source=source)

    def _machine_type(self, name: str, table: Any) -> MachineType:
        key = f"machine_types.{name}"
        if not _NAME_RE.match(name):
            raise self.fail(
                key,
                "a machine type name must be letters and digits starting with a "
                "letter (for example 'Drilling'); rename the table",
            )
        table = self._table(key, table)
        self._no_unknown_keys(key, table, _MACHINE_TYPE_KEYS)

        prefix = table.get("id_prefix")
        if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix):
            raise self.fail(
                f"{key}.id_prefix",
                f"got {prefix!r}; set it to lowercase letters and digits, at most "
                "16, starting with a letter (machine ids are '<prefix>-001')",
            )

        parameters_table = table.get("parameters")
        if not isinstance(parameters_table, dict) or not parameters_table:
            raise self.fail(
                f"{key}.parameters",
                "no parameters defined; add at least one "
                f"[{key}.parameters.<Name>] table",
            )
        parameters = {
            p_name: self._parameter(f"{key}.parameters.{p_name}", p_name, p_table)
            for p_name, p_table in parameters_table.items()
        }
        return MachineType(
            name=name,
            id_prefix=prefix,
            parameters=parameters,
            description=self._text(f"{key}.description", table.get("description")),
        )

    def _parameter(self, key: str, name: str, table: Any) -> Parameter:
        if not _NAME_RE.match(name):
            raise self.fail(
                key,
                "a parameter name is an MQTT topic level: letters and digits "
                "starting with a letter (for example 'VibrationLevel'); rename it",
            )
        if name.lower() in _RESERVED_PARAMETER_NAMES:
            raise self.fail(
                key,
                f"{name!r} is reserved for batch messages on "
                "machine/{machine_id}/telemetry; choose another name",
            )
        table = self._table(key, table)
        self._no_unknown_keys(key, table, _PARAMETER_KEYS)
        for required in _REQUIRED_PARAMETER_KEYS:
            if required not in table:
                raise self.fail(f"{key}.{required}", "missing; this key is required")

        unit = table["unit"]
        if not isinstance(unit, str) or not unit.strip():
            raise self.fail(
                f"{key}.unit", f'got {unit!r}; set it to a unit such as "°C"'
            )

        parameter = Parameter(
            name=name,
            unit=unit,
            normal_min=self._number(key, table, "normal_min"),
            normal_max=self._number(key, table, "normal_max"),
            warning_low=self._optional_number(key, table, "warning_low"),
            warning_high=self._optional_number(key, table, "warning_high"),
            critical_low=self._optional_number(key, table, "critical_low"),
            critical_high=self._optional_number(key, table, "critical_high"),
            drift=self._non_negative(key, table, "drift"),
            noise=self._non_negative(key, table, "noise"),
            reversion=self._reversion(key, table),
            decimals=self._decimals(key, table),
            description=self._text(f"{key}.description", table.get("description")),
        )
        self._limits_ordered(key, parameter)
        return parameter

    def _limits_ordered(self, key: str, p: Parameter) -> None:
        if p.normal_min >= p.normal_max:
            raise self.fail(
                f"{key}.normal_min",
                f"normal range is reversed or empty ({p.normal_min} >= "
                f"{p.normal_max}); normal_min must be below normal_max",
            )
        # Each pair: (lower key, lower value, upper key, upper value, strict?)
        pairs: list[tuple[str, float | None, str, float | None, bool]] = [
            ("critical_low", p.critical_low, "warning_low", p.warning_low, True),
            ("warning_low", p.warning_low, "normal_min", p.normal_min, False),
            ("critical_low", p.critical_low, "normal_min", p.normal_min, False),
            ("normal_max", p.normal_max, "warning_high", p.warning_high, False),
            ("normal_max", p.normal_max, "critical_high", p.critical_high, False),
            ("warning_high", p.warning_high, "critical_high", p.critical_high, True),
        ]
        for low_key, low, high_key, high, strict in pairs:
            if low is None or high is None:
                continue
            if low > high or (strict and low == high):
                relation = "below" if strict else "at most"
                offending = high_key if low_key.startswith("normal") else low_key
                raise self.fail(
                    f"{key}.{offending}",
                    f"{low_key} ({low}) must be {relation} {high_key} ({high}); "
                    "thresholds go critical_low < warning_low <= normal_min < "
                    "normal_max <= warning_high < critical_high",
                )

    def _prefixes_unique(self, machine_types: dict[str, MachineType]) -> None:
        seen: dict[str, str] = {}
        for machine_type in machine_types.values():
            other = seen.get(machine_type.id_prefix)
            if other is not None:
                raise self.fail(
                    f"machine_types.{machine_type.name}.id_prefix",
                    f"{machine_type.id_prefix!r} is already the prefix of {other}; "
                    "every machine type needs its own prefix",
                )
            seen[machine_type.id_prefix] = machine_type.name

    def _units_consistent(self, machine_types: dict[str, MachineType]) -> None:
        # Storage and the API know a parameter by name alone, so one name must
        # mean one unit everywhere.
        units: dict[str, tuple[str, str]] = {}
        for machine_type in machine_types.values():
            for parameter in machine_type.parameters.values():
                first = units.setdefault(
                    parameter.name, (parameter.unit, machine_type.name)
                )
                if first[0] != parameter.unit:
                    raise self.fail(
                        f"machine_types.{machine_type.name}.parameters."
                        f"{parameter.name}.unit",
                        f"{parameter.unit!r} differs from {first[0]!r} used by "
                        f"{first[1]}; a parameter name must have one unit in every "
                        "machine type (rename one of them or use the same unit)",
                    )

    def _table(self, key: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(
                key, f"expected a table, got {type(value).__name__}; write [{key}]"
            )
        return value

    def _no_unknown_keys(
        self, key: str, table: dict[str, Any], allowed: tuple[str, ...]
    ) -> None:
        for name in table:
            if name in allowed:
                continue
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            full = name if key == "(top level)" else f"{key}.{name}"
            raise self.fail(
                full,
                f"unknown key; {hint}allowed keys here: {', '.join(allowed)}",
            )

    def _number(self, key: str, table: dict[str, Any], name: str) -> float:
        value = table[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{key}.{name}", f"got {value!r}; it must be a number")
        if not math.isfinite(value):
            raise self.fail(f"{key}.{name}", f"got {value!r}; it must be finite")
        return float(value)

    def _optional_number(
        self, key: str, table: dict[str, Any], name: str
    ) -> float | None:
        return self._number(key, table, name) if name in table else None

    def _non_negative(self, key: str, table: dict[str, Any], name: str) -> float:
        value = self._number(key, table, name)
        if value < 0:
            raise self.fail(
                f"{key}.{name}", f"got {value}; it must be zero or positive"
            )
        return value

    def _reversion(self, key: str, table: dict[str, Any]) -> float:
        if "reversion" not in table:
            return _DEFAULT_REVERSION
        value = self._non_negative(key, table, "reversion")
        if value > 10:
            raise self.fail(
                f"{key}.reversion",
                f"got {value}; it is a rate per second, keep it between 0 and 10 "
                "(0.05 pulls a value halfway back in about 14 s)",
            )
        return value

    def _decimals(self, key: str, table: dict[str, Any]) -> int:
        value = table.get("decimals", _DEFAULT_DECIMALS)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{key}.decimals", f"got {value!r}; it must be an integer")
        if not 0 <= value <= _MAX_DECIMALS:
            raise self.fail(
                f"{key}.decimals",
                f"got {value}; it must be between 0 and {_MAX_DECIMALS}",
            )
        return value

    def _text(self, key: str, value: Any) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(key, f"got {value!r}; it must be a string")
        return value
