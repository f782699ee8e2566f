"""Simulated machines: values that wander like real sensors, and a fleet of them.

Each parameter follows a mean-reverting random walk (an Ornstein-Uhlenbeck process)
around the middle of its normal range: `drift` is its volatility per square-root
second, `reversion` how hard it is pulled back per second, `noise` the measurement
noise on each reading. The walk is sampled exactly for any time step, so a machine
looks the same at 1 reading per second as at 50. Outside incidents the level is
kept inside the normal range (a wall that reflects it), so only incidents cause
warnings; during an incident the level heads quickly for a point past the threshold,
and afterwards it drifts back, which is the recovery.

Everything here is pure: no clock, no network. Randomness comes from generators
seeded with the run's seed and the machine id, so the same seed, fleet and rate
always give the same values, and adding a machine does not change the others.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from orchestralink.catalog import Catalog, CatalogError, MachineType, Parameter, Status
from simulator.errors import ConfigurationError
from simulator.incidents import (
    INCIDENT_TIME_CONSTANT,
    Incident,
    ScheduledIncident,
    available_directions,
    incident_options,
    random_incident,
    target_level,
)


@dataclass(frozen=True)
class Reading:
    """One parameter's value at one instant, with the catalog's verdict on it."""

    parameter: str
    value: float
    unit: str
    status: Status


@dataclass(frozen=True)
class Sample:
    """Everything one machine reports at one tick of simulated time."""

    machine_id: str
    machine_type: str
    time: float
    readings: tuple[Reading, ...]
    incidents_started: tuple[Incident, ...] = ()
    incidents_ended: tuple[Incident, ...] = ()


def ou_step(
    level: float,
    target: float,
    reversion: float,
    volatility: float,
    dt: float,
    gauss: float,
) -> float:
    """Advance a mean-reverting random walk by dt seconds (exact discretisation)."""
    if reversion <= 0:
        return level + volatility * math.sqrt(dt) * gauss
    decay = math.exp(-reversion * dt)
    spread = volatility * math.sqrt((1.0 - decay * decay) / (2.0 * reversion))
    return target + (level - target) * decay + spread * gauss


class Machine:
    """One simulated machine of a catalog machine type."""

    def __init__(
        self,
        machine_id: str,
        machine_type: MachineType,
        *,
        seed: int | str,
        incidents: Iterable[Incident] = (),
        incident_rate: float = 0.0,
        incident_duration: float = 20.0,
    ) -> None:
        """incident_rate: random incidents per hour; incident_duration: their mean."""
        self.machine_id = machine_id
        self.machine_type = machine_type
        self.incidents: list[Incident] = sorted(incidents, key=lambda i: i.start)
        self._incident_rate = incident_rate
        self._incident_duration = incident_duration
        self._values = random.Random(f"{seed}/{machine_id}/values")
        self._chance = random.Random(f"{seed}/{machine_id}/incidents")
        self._time = 0.0
        self._ticks = 0
        self._active: tuple[Incident, ...] = ()
        self._levels = {
            name: self._initial_level(parameter)
            for name, parameter in machine_type.parameters.items()
        }

    @property
    def time(self) -> float:
        """Simulated seconds at which the next sample will be taken."""
        return self._time

    def active_incidents(self, time: float) -> tuple[Incident, ...]:
        return tuple(i for i in self.incidents if i.active_at(time))

    def step(self, dt: float) -> Sample:
        """Take the sample at the current simulated time, then advance by dt."""
        now = self._time
        if self._ticks > 0:
            self._advance(dt, now)
        self._maybe_start_incident(now, dt)

        active = self.active_incidents(now)
        started = tuple(i for i in active if i not in self._active)
        ended = tuple(i for i in self._active if i not in active)
        self._active = active

        readings = tuple(
            self._read(parameter) for parameter in self.machine_type.parameters.values()
        )
        self._ticks += 1
        self._time = now + dt
        return Sample(
            machine_id=self.machine_id,
            machine_type=self.machine_type.name,
            time=now,
            readings=readings,
            incidents_started=started,
            incidents_ended=ended,
        )

    def _initial_level(self, parameter: Parameter) -> float:
        width = parameter.normal_max - parameter.normal_min
        return parameter.normal_centre + self._values.uniform(-0.25, 0.25) * width

    def _advance(self, dt: float, now: float) -> None:
        by_parameter = {i.parameter: i for i in self.active_incidents(now)}
        for name, parameter in self.machine_type.parameters.items():
            level = self._levels[name]
            incident = by_parameter.get(name)
            if incident is None:
                target, reversion = parameter.normal_centre, parameter.reversion
            else:
                target = target_level(parameter, incident.severity, incident.direction)
                reversion = max(parameter.reversion, _incident_reversion(incident))

            moved = ou_step(
                level, target, reversion, parameter.drift, dt, self._values.gauss()
            )
            if incident is None and _inside(parameter, level):
                moved = _reflect(parameter, moved)
            self._levels[name] = moved

    def _maybe_start_incident(self, now: float, dt: float) -> None:
        if self._incident_rate <= 0:
            return
        # Draw every tick, started or not, so the sequence depends on time alone.
        draw = self._chance.random()
        if self.active_incidents(now):
            return
        probability = 1.0 - math.exp(-self._incident_rate / 3600.0 * dt)
        if draw >= probability:
            return
        incident = random_incident(
            self.machine_id,
            self.machine_type.parameters,
            now,
            self._incident_duration,
            self._chance.random,
        )
        if incident is not None:
            self.incidents.append(incident)

    def _read(self, parameter: Parameter) -> Reading:
        level = self._levels[parameter.name]
        value = round(
            level + parameter.noise * self._values.gauss(), parameter.decimals
        )
        return Reading(
            parameter=parameter.name,
            value=value,
            unit=parameter.unit,
            status=parameter.classify(value),
        )


def _incident_reversion(incident: Incident) -> float:
    # Short incidents must still cross their threshold: at least three time
    # constants fit in the incident.
    return 1.0 / min(INCIDENT_TIME_CONSTANT, incident.duration / 3.0)


def _inside(parameter: Parameter, level: float) -> bool:
    return parameter.normal_min <= level <= parameter.normal_max


def _reflect(parameter: Parameter, level: float) -> float:
    low, high = parameter.normal_min, parameter.normal_max
    if level > high:
        level = 2 * high - level
    elif level < low:
        level = 2 * low - level
    return min(max(level, low), high)


def machine_ids(
    catalog: Catalog, count: int, types: Sequence[str] | None = None
) -> list[tuple[str, MachineType]]:
    """Ids and types of a mixed fleet: drill-001, mill-002, lathe-003, drill-004..."""
    if count < 1:
        raise ConfigurationError(f"machine count {count} is too small; use 1 or more")
    try:
        chosen = [
            catalog.machine_type(name) for name in (types or catalog.machine_types)
        ]
    except CatalogError as error:
        raise ConfigurationError(f"{error}; fix the list of machine types") from error
    if not chosen:
        raise ConfigurationError("no machine types chosen; name at least one")
    return [
        (f"{chosen[i % len(chosen)].id_prefix}-{i + 1:03d}", chosen[i % len(chosen)])
        for i in range(count)
    ]


def build_fleet(
    catalog: Catalog,
    count: int,
    *,
    seed: int | str,
    types: Sequence[str] | None = None,
    schedule: Sequence[ScheduledIncident] = (),
    incident_rate: float = 0.0,
    incident_duration: float = 20.0,
) -> list[Machine]:
    """Build the fleet and bind the incident schedule to its machines."""
    fleet = machine_ids(catalog, count, types)
    by_id = dict(fleet)
    planned: dict[str, list[Incident]] = {machine_id: [] for machine_id in by_id}
    for entry in schedule:
        incident = _bind(entry, by_id)
        planned[incident.machine_id].append(incident)
    return [
        Machine(
            machine_id,
            machine_type,
            seed=seed,
            incidents=planned[machine_id],
            incident_rate=incident_rate,
            incident_duration=incident_duration,
        )
        for machine_id, machine_type in fleet
    ]


def _bind(entry: ScheduledIncident, fleet: dict[str, MachineType]) -> Incident:
    machine_type = fleet.get(entry.machine_id)
    if machine_type is None:
        raise ConfigurationError(
            f"incident schedule entry {entry.text!r}: no machine {entry.machine_id!r} "
            f"in this fleet; the fleet is {', '.join(fleet)} (raise --machines or "
            "fix the id)"
        )
    try:
        parameter = machine_type.parameter(entry.parameter)
    except CatalogError as error:
        raise ConfigurationError(
            f"incident schedule entry {entry.text!r}: {error}"
        ) from error

    sides = available_directions(parameter, entry.severity)
    direction = entry.direction or (sides[0] if sides else None)
    if direction is None or direction not in sides:
        wanted = f"{entry.severity}_{entry.direction or 'high/low'}"
        raise ConfigurationError(
            f"incident schedule entry {entry.text!r}: {machine_type.name} "
            f"{parameter.name} has no {wanted} threshold in the catalog; pick a "
            f"severity it has ({_severities(parameter) or 'none'}) or another "
            "parameter"
        )
    return Incident(
        machine_id=entry.machine_id,
        parameter=parameter.name,
        severity=entry.severity,
        direction=direction,
        start=entry.start,
        duration=entry.duration,
    )


def _severities(parameter: Parameter) -> str:
    return ", ".join(
        f"{severity}-{side}" for severity, side in incident_options(parameter)
    )
