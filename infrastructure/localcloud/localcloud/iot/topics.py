"""MQTT topic filters: validation for FROM clauses, and matching.

The engine mostly dispatches by MQTT 5 subscription identifier (see
`engine.py`); matching here serves messages that arrive without one.
"""

from __future__ import annotations

from functools import lru_cache

MAX_TOPIC_LEVELS = (
    8  # AWS IoT: a topic filter has at most 8 levels (after $aws/rules/...)
)


def validate_topic_filter(topic_filter: str) -> str | None:
    """What is wrong with an MQTT topic filter, or None when it is valid."""
    if not topic_filter:
        return "the topic filter is empty"
    if "\x00" in topic_filter:
        return "the topic filter contains a NUL character"
    levels = topic_filter.split("/")
    for position, level in enumerate(levels):
        if "#" in level and (level != "#" or position != len(levels) - 1):
            return "'#' must be a whole level and the last one"
        if "+" in level and level != "+":
            return "'+' must be a whole level"
    return None


@lru_cache(maxsize=4096)
def _split(topic_filter: str) -> tuple[str, ...]:
    return tuple(topic_filter.split("/"))


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT matching; wildcards at the first level do not match `$` topics."""
    pattern = _split(topic_filter)
    levels = topic.split("/")
    if topic.startswith("$") and pattern[0] in ("+", "#"):
        return False
    for position, part in enumerate(pattern):
        if part == "#":
            return True
        if position >= len(levels):
            return False
        if part != "+" and part != levels[position]:
            return False
    return len(pattern) == len(levels)


def filters_overlap(first: str, second: str) -> bool:
    """Whether some topic matches both filters."""
    left, right = _split(first), _split(second)
    for position in range(max(len(left), len(right))):
        a = left[position] if position < len(left) else None
        b = right[position] if position < len(right) else None
        if a == "#" or b == "#":
            other = b if a == "#" else a
            return not (position == 0 and other is not None and other.startswith("$"))
        if a is None or b is None:
            return False
        if a == "+" or b == "+":
            literal = b if a == "+" else a
            if position == 0 and literal.startswith("$"):
                return False
            continue
        if a != b:
            return False
    return True


def _join(first: str, second: str) -> str:
    """The narrowest filter that covers two overlapping filters."""
    left, right = _split(first), _split(second)
    joined: list[str] = []
    for position in range(max(len(left), len(right))):
        a = left[position] if position < len(left) else None
        b = right[position] if position < len(right) else None
        if a == "#" or b == "#" or a is None or b is None:
            joined.append("#")
            break
        joined.append(a if a == b else "+")
    return "/".join(joined)


def subscription_filters(topic_filters: set[str]) -> set[str]:
    """Filters to subscribe to so that no two overlap, covering all given ones.

    Brokers may deliver one copy of a message per matching subscription
    (Mosquitto does for MQTT 5 clients and for shared subscriptions); with no
    overlap every message arrives once, and the engine matches its topic
    against each rule's own filter.
    """
    pending = sorted(topic_filters)
    result: list[str] = []
    while pending:
        candidate = pending.pop()
        for index, existing in enumerate(result):
            if filters_overlap(candidate, existing):
                del result[index]
                pending.append(_join(candidate, existing))
                break
        else:
            result.append(candidate)
    return set(result)
