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
