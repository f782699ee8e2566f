"""Incidents: the moments a simulated machine overheats or otherwise misbehaves.

An incident pulls one parameter of one machine past a warning or critical threshold
for a while; when it ends, the value drifts back to its normal range by itself, so
every incident produces an alert and, later, its recovery. Incidents come from a
schedule given on the command line (reproducible demos and tests) or at random
(a Poisson process per machine, drawn from the run's seed).

Schedule syntax, entries separated by commas or semicolons::

    MACHINE:PARAMETER:SEVERITY@START[+DURATION]
    drill-001:Temperature:critical@30s+20s, lathe-003:OilPressure:warning-low@1m

SEVERITY is `warning` or `critical`, optionally with `-high` or `-low` (without it
the high side is used when the parameter has one). Times take `s`, `m` or `h`
(seconds when no unit), measured in simulated time from the start of the run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from orchestralink.catalog import Parameter
from simulator.errors import ConfigurationError

Severity = Literal["warning", "critical"]
Direction = Literal["high", "low"]

SEVERITIES: tuple[Severity, ...] = ("warning", "critical")
DIRECTIONS: tuple[Direction, ...] = ("high", "low")

# How fast a value heads for its incident level: a time constant in seconds. Short
# enough that a 20 s incident spends most of its time past the threshold.
INCIDENT_TIME_CONSTANT = 2.0

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_ENTRY_RE = re.compile(
    r"^(?P<machine>[^:@+\s]+):(?P<parameter>[^:@+\s]+):(?P<severity>[a-z-]+)"
    r"@(?P<start>[^+]+)(?:\+(?P<duration>.+))?$"
)


@dataclass(frozen=True)
class Incident:
    """One parameter of one machine held past a threshold from start to end."""

    machine_id: str
    parameter: str
    severity: Severity
    direction: Direction
    start: float
    duration: float

    @property
    def end(self) -> float:
        return self.start + self.duration

    def active_at(self, time: float) -> bool:
        return self.start <= time < self.end

    def describe(self) -> str:
        return (
            f"{self.machine_id}:{self.parameter}:{self.severity}-{self.direction}"
            f"@{self.start:g}s+{self.duration:g}s"
        )


@dataclass(frozen=True)
class ScheduledIncident:
    """A schedule entry before it is checked against the fleet and catalog."""

    machine_id: str
    parameter: str
    severity: Severity
    direction: Direction | None
    start: float
    duration: float
    text: str


def parse_duration(text: str, *, what: str = "duration") -> float:
    """Seconds from "30", "30s", "1.5m", "2h" or "250ms"; never negative."""
    match = _DURATION_RE.match(text)
    if match is None:
        raise ConfigurationError(
            f"{what} {text!r} is not a duration; write a number of seconds, "
            "optionally with a unit: 30, 30s, 1.5m, 2h, 250ms"
        )
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def parse_schedule(text: str, default_duration: float) -> list[ScheduledIncident]:
    """Parse an incident schedule; errors name the entry and show the syntax."""
    entries = [e.strip() for e in re.split(r"[,;]", text) if e.strip()]
    return [_parse_entry(entry, default_duration) for entry in entries]


def _parse_entry(entry: str, default_duration: float) -> ScheduledIncident:
    syntax = (
        "write MACHINE:PARAMETER:SEVERITY@START[+DURATION], "
        "for example drill-001:Temperature:critical@30s+20s"
    )
    match = _ENTRY_RE.match(entry)
    if match is None:
        raise ConfigurationError(
            f"incident schedule entry {entry!r} is malformed; {syntax}"
        )

    severity_text = match.group("severity")
    severity, _, direction = severity_text.partition("-")
    if severity not in SEVERITIES or direction not in ("", *DIRECTIONS):
        raise ConfigurationError(
            f"incident schedule entry {entry!r}: severity {severity_text!r} is "
            "unknown; use warning, critical, warning-high, warning-low, "
            "critical-high or critical-low"
        )

    start = parse_duration(match.group("start"), what=f"start time in {entry!r}")
    duration_text = match.group("duration")
    duration = (
        parse_duration(duration_text, what=f"duration in {entry!r}")
        if duration_text is not None
        else default_duration
    )
    if duration <= 0:
        raise ConfigurationError(
            f"incident schedule entry {entry!r}: the duration must be positive"
        )
    return ScheduledIncident(
        machine_id=match.group("machine"),
        parameter=match.group("parameter"),
        severity="critical" if severity == "critical" else "warning",
        direction="high" if direction == "high" else "low" if direction else None,
        start=start,
        duration=duration,
        text=entry,
    )


def available_directions(parameter: Parameter, severity: Severity) -> list[Direction]:
    """The sides on which the parameter has a threshold of this severity."""
    if severity == "critical":
        high, low = parameter.critical_high, parameter.critical_low
    else:
        high, low = parameter.warning_high, parameter.warning_low
    sides: list[Direction] = []
    if high is not None:
        sides.append("high")
    if low is not None:
        sides.append("low")
    return sides


def incident_options(parameter: Parameter) -> list[tuple[Severity, Direction]]:
    """Every (severity, direction) an incident on this parameter can take."""
    return [
        (severity, direction)
        for severity in SEVERITIES
        for direction in available_directions(parameter, severity)
    ]


def target_level(
    parameter: Parameter, severity: Severity, direction: Direction
) -> float:
    """Where an incident drives the value: well past its threshold, not beyond.

    A warning aims halfway between the warning and critical thresholds, so noise
    does not turn it critical; a critical incident overshoots the critical threshold
    by half the width of the warning band.
    """
    p = parameter
    if direction == "high":
        return _beyond(p.normal_max, p.warning_high, p.critical_high, severity, +1.0)
    return _beyond(p.normal_min, p.warning_low, p.critical_low, severity, -1.0)


def _beyond(
    normal: float,
    warning: float | None,
    critical: float | None,
    severity: Severity,
    sign: float,
) -> float:
    if severity == "warning":
        if warning is None:
            raise ValueError("no warning threshold on this side")
        if critical is not None:
            return (warning + critical) / 2.0
        return warning + sign * max(abs(warning - normal), abs(warning) * 0.05)
    if critical is None:
        raise ValueError("no critical threshold on this side")
    band = abs(critical - warning) if warning is not None else abs(critical - normal)
    band = band or abs(critical) * 0.1 or 1.0
    return critical + sign * band / 2.0


def random_incident(
    machine_id: str,
    parameters: dict[str, Parameter],
    start: float,
    mean_duration: float,
    uniform: Callable[[], float],
) -> Incident | None:
    """Draw an incident: a parameter with thresholds, a side, and a duration."""
    candidates = [p for p in parameters.values() if incident_options(p)]
    if not candidates:
        return None
    parameter = candidates[_pick(len(candidates), uniform())]
    options = incident_options(parameter)
    severity, direction = options[_pick(len(options), uniform())]
    duration = round(mean_duration * (0.5 + uniform()), 1)
    return Incident(machine_id, parameter.name, severity, direction, start, duration)


def _pick(count: int, u: float) -> int:
    return min(count - 1, math.floor(u * count))
