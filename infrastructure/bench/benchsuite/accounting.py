"""Exact accounting of an ingest run: what the simulator says it sent against
what the readings table holds.

The simulator's load mode reports, per machine, the range of message sequence
numbers it handed to the broker (contiguous, from `first_sequence` to
`last_sequence`), how many readings those messages carried, and the first and
last reading timestamps. Every stored row keeps its message's sequence. So, per
machine and sequence, exactly `k` rows with `k` distinct parameters must exist
(k = 1 for one reading per message, k = the machine type's parameter count for
batch messages). Anything missing is lost; a second row for the same reading
(same machine, sequence and parameter) is a reading stored twice; a row whose
machine or sequence was never sent is unexpected. No sampling, no estimate.

The database side is read as groups per (machine, sequence), ordered, through
a server-side cursor, and merged with the expected ranges in one pass: memory
stays constant whatever the run's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from psycopg import Connection, sql

from benchsuite.stack import BenchError

_EXAMPLES = 5


@dataclass(frozen=True)
class SentMachine:
    """One machine's part of a simulator run, from its JSON summary."""

    machine_id: str
    first_sequence: int
    last_sequence: int
    messages: int
    readings: int
    first_timestamp: str
    last_timestamp: str

    @property
    def readings_per_message(self) -> int:
        return self.readings // self.messages


@dataclass(frozen=True)
class StoredGroup:
    """The rows stored for one machine and message sequence."""

    machine_id: str
    sequence: int | None
    rows: int
    parameters: int


@dataclass
class Accounting:
    sent: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    lost_examples: list[str] = field(default_factory=list)
    duplicate_examples: list[str] = field(default_factory=list)
    timestamp_mismatches: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.unexpected == 0
            and not self.timestamp_mismatches
            and self.stored == self.sent
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "stored": self.stored,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "unexpected": self.unexpected,
            "lost_examples": self.lost_examples,
            "duplicate_examples": self.duplicate_examples,
            "timestamp_mismatches": self.timestamp_mismatches,
        }


def sent_from_summary(summary: Mapping[str, Any]) -> dict[str, SentMachine]:
    """The simulator summary's per-machine tallies; checks they are contiguous."""
    sent = {}
    for machine_id, tally in summary["machines"].items():
        if not tally["messages"]:
            continue
        machine = SentMachine(
            machine_id=machine_id,
            first_sequence=int(tally["first_sequence"]),
            last_sequence=int(tally["last_sequence"]),
            messages=int(tally["messages"]),
            readings=int(tally["readings"]),
            first_timestamp=str(tally["first_timestamp"]),
            last_timestamp=str(tally["last_timestamp"]),
        )
        span = machine.last_sequence - machine.first_sequence + 1
        if span != machine.messages or machine.readings % machine.messages:
            raise BenchError(
                f"the simulator's tally for {machine_id} is not contiguous "
                f"(sequences {machine.first_sequence}..{machine.last_sequence}, "
                f"{machine.messages} messages, {machine.readings} readings): "
                "exact accounting needs every message of the range sent"
            )
        sent[machine_id] = machine
    return sent


def account(
    sent: Mapping[str, SentMachine],
    stored: Iterable[StoredGroup],
    time_ranges: Mapping[str, tuple[str, str]] | None = None,
) -> Accounting:
    """Merge sorted stored groups (by machine, then sequence) with what was sent.

    `time_ranges` maps a machine to the (first, last) timestamps stored for it,
    in the simulator's format; a difference from the summary is reported.
    """
    result = Accounting(sent=sum(m.readings for m in sent.values()))
    seen: dict[str, int] = dict.fromkeys(sent, 0)
    for group in stored:
        result.stored += group.rows
        machine = sent.get(group.machine_id)
        in_range = (
            machine is not None
            and group.sequence is not None
            and machine.first_sequence <= group.sequence <= machine.last_sequence
        )
        if machine is None or not in_range:
            result.unexpected += group.rows
            continue
        seen[group.machine_id] += 1
        k = machine.readings_per_message
        where = f"{group.machine_id} #{group.sequence}"
        if group.parameters < k:
            result.lost += k - group.parameters
            _example(result.lost_examples, f"{where}: {group.parameters} of {k}")
        if group.parameters > k:
            result.unexpected += group.parameters - k
        if group.rows > group.parameters:
            result.duplicated += group.rows - group.parameters
            _example(result.duplicate_examples, f"{where}: {group.rows} rows")

    for machine_id, machine in sent.items():
        missing = machine.messages - seen[machine_id]
        if missing:
            result.lost += missing * machine.readings_per_message
            _example(
                result.lost_examples,
                f"{machine_id}: {missing} of {machine.messages} messages absent",
            )

    for machine_id, machine in sent.items():
        expected = (machine.first_timestamp, machine.last_timestamp)
        found = (time_ranges or {}).get(machine_id)
        if time_ranges is not None and found != expected:
            result.timestamp_mismatches.append(
                f"{machine_id}: sent {expected[0]}..{expected[1]}, stored {found}"
            )
    return result


def _example(examples: list[str], text: str) -> None:
    if len(examples) < _EXAMPLES:
        examples.append(text)


def account_table(
    conn: Connection[Any], table: str, sent: Mapping[str, SentMachine]
) -> Accounting:
    """`account` against a table with the readings columns (readings, or the
    baseline's copy of it)."""
    name = sql.Identifier(table)
    groups = sql.SQL(
        "SELECT machine_id, sequence, count(*), count(DISTINCT parameter) "
        "FROM {} GROUP BY 1, 2 ORDER BY 1, 2"
    ).format(name)
    ranges = sql.SQL("SELECT machine_id, min(ts), max(ts) FROM {} GROUP BY 1").format(
        name
    )
    time_ranges = {
        machine_id: (_format(first), _format(last))
        for machine_id, first, last in conn.execute(ranges).fetchall()
    }
    with conn.transaction(), conn.cursor(name="accounting") as cursor:
        cursor.itersize = 20_000
        cursor.execute(groups)
        stored = (StoredGroup(m, s, int(n), int(p)) for m, s, n, p in cursor)
        return account(sent, stored, time_ranges)


def _format(moment: datetime) -> str:
    """The simulator's timestamp format: ISO 8601 UTC with milliseconds and Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
