"""Exceptions of the IoT rules engine.

    LocalCloudError
    └── IotError                 anything the rules engine raises
        ├── SqlParseError        rule SQL the engine cannot run (AWS: SqlParseException)
        └── RuleEvaluationError  a message the rule's SQL cannot be applied to

`SqlParseError` is raised when a rule is created or replaced; the edge turns it
into AWS's `SqlParseException` (HTTP 400) and the rule is not stored.
`RuleEvaluationError` happens per message (for example `SELECT *, x` against a
payload that is not a JSON object); the message is skipped with a warning.
"""

from __future__ import annotations

from localcloud.errors import LocalCloudError


class IotError(LocalCloudError):
    """Base of every exception of the IoT rules engine."""


class SqlParseError(IotError):
    """The rule's SQL is invalid, or uses a part this engine cannot run.

    The message quotes the offending part, so that the person who wrote the
    rule can find it without reading the engine's code.
    """


class RuleEvaluationError(IotError):
    """The rule's SQL cannot be evaluated against one particular message."""
