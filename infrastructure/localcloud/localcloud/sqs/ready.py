"""What a queue holds, by state, and the order receives take visible messages in.

An `Entry` is one message in one queue with its state (delayed, visible, in
flight, gone) and a token bumped on every change: heaps never remove items,
they carry the token they were pushed with, and an item whose token is out of
date is skipped when it surfaces (lazy deletion, so no operation searches).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from heapq import heappop, heappush
from typing import Any

DELAYED, VISIBLE, INFLIGHT, GONE = 0, 1, 2, 3


@dataclass(slots=True, eq=False)
class Entry:
    message: Any
    seq: int  # arrival order in this queue
    group: str | None = None  # MessageGroupId, FIFO queues only
    state: int = VISIBLE
    token: int = 0  # bumped on every state change; heap items carry the token
    handles: list[str] = field(default_factory=list)


class StandardReady:
    """Visible messages of a standard queue, oldest first."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Entry]] = []

    def push(self, entry: Entry) -> None:
        heappush(self._heap, (entry.seq, entry.token, entry))

    def begin(self) -> None:
        """Start of one receive call (FIFO queues need to know)."""

    def pop(self) -> Entry | None:
        heap = self._heap
        while heap:
            _, token, entry = heappop(heap)
            if entry.token == token and entry.state == VISIBLE:
                return entry
        return None

    def on_inflight(self, entry: Entry) -> None:
        """A message was received and is now in flight."""

    def on_released(self, entry: Entry) -> None:
        """A message stopped being in flight (deleted, or visible again)."""

    def clear(self) -> None:
        self._heap.clear()


class FifoReady:
    """Visible messages of a FIFO queue, by message group.

    A group with a message in flight delivers nothing more until that message
    is deleted or visible again; one receive may return several messages of
    the same group, in order, like SQS.
    """

    def __init__(self) -> None:
        self._groups: dict[str, list[tuple[int, int, Entry]]] = {}
        self._inflight: dict[str, int] = {}
        self._eligible: list[tuple[int, str]] = []  # (head seq, group), lazy
        self._current: str | None = None

    def push(self, entry: Entry) -> None:
        group = entry.group or ""
        heap = self._groups.setdefault(group, [])
        heappush(heap, (entry.seq, entry.token, entry))
        if not self._inflight.get(group) and heap[0][2] is entry:
            heappush(self._eligible, (entry.seq, group))

    def begin(self) -> None:
        self._current = None

    def _top(self, group: str) -> Entry | None:
        heap = self._groups.get(group)
        while heap:
            _, token, entry = heap[0]
            if entry.token == token and entry.state == VISIBLE:
                return entry
            heappop(heap)
        self._groups.pop(group, None)
        return None

    def _take(self, group: str) -> Entry | None:
        entry = self._top(group)
        if entry is not None:
            heappop(self._groups[group])
        return entry

    def pop(self) -> Entry | None:
        if self._current is not None:
            entry = self._take(self._current)
            if entry is not None:
                return entry
            self._current = None
        while self._eligible:
            seq, group = heappop(self._eligible)
            if self._inflight.get(group):
                continue
            top = self._top(group)
            if top is None:
                continue
            if top.seq != seq:
                heappush(self._eligible, (top.seq, group))
                continue
            self._current = group
            return self._take(group)
        return None

    def on_inflight(self, entry: Entry) -> None:
        group = entry.group or ""
        self._inflight[group] = self._inflight.get(group, 0) + 1

    def on_released(self, entry: Entry) -> None:
        group = entry.group or ""
        left = self._inflight.get(group, 0) - 1
        if left > 0:
            self._inflight[group] = left
            return
        self._inflight.pop(group, None)
        top = self._top(group)
        if top is not None:
            heappush(self._eligible, (top.seq, group))

    def clear(self) -> None:
        self._groups.clear()
        self._inflight.clear()
        self._eligible.clear()
        self._current = None
