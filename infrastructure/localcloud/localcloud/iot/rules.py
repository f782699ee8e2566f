"""Topic rules as moto stores them, compiled for the engine.

moto's IoT backends are the only record of which rules exist (created through
the API, the CLI or CloudFormation); `RuleCatalog.load()` reads them every
time and keeps nothing but a cache of compiled SQL and actions, keyed by the
rule's text, so an unchanged rule is never compiled twice and a replaced one
is picked up at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from localcloud.iot.actions import Action, ActionFactory
from localcloud.iot.errors import IotError
from localcloud.iot.sql import Statement, compile_sql

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TopicRule:
    name: str
    arn: str
    account_id: str
    region: str
    statement: Statement
    actions: tuple[Action, ...]
    error_action: Action | None
    enabled: bool

    @property
    def topic_filter(self) -> str:
        return self.statement.topic_filter


@dataclass(frozen=True, slots=True)
class StoredRule:
    """The fields of moto's `FakeRule` that the engine reads."""

    name: str
    arn: str
    account_id: str
    region: str
    sql: str
    sql_version: str | None
    actions: list[dict[str, Any]]
    error_action: dict[str, Any]
    disabled: bool


def moto_rules() -> list[StoredRule]:
    """Every topic rule in every account and region moto has touched."""
    from moto.iot.models import iot_backends

    stored: list[StoredRule] = []
    for account_id, regions in list(iot_backends.items()):
        for region, backend in list(regions.items()):
            for rule in list(backend.rules.values()):
                stored.append(
                    StoredRule(
                        name=rule.rule_name,
                        arn=rule.arn,
                        account_id=account_id,
                        region=region,
                        sql=rule.sql,
                        sql_version=rule.aws_iot_sql_version,
                        actions=list(rule.actions or []),
                        error_action=dict(rule.error_action or {}),
                        disabled=bool(rule.rule_disabled),
                    )
                )
    return stored


class RuleCatalog:
    """Compiled view of the stored rules; rules whose SQL fails are skipped."""

    def __init__(
        self,
        actions: ActionFactory,
        source: Callable[[], Iterable[StoredRule]] = moto_rules,
    ) -> None:
        self._actions = actions
        self._source = source
        self._cache: dict[tuple[str, ...], TopicRule | None] = {}

    def load(self) -> list[TopicRule]:
        rules: list[TopicRule] = []
        seen: set[tuple[str, ...]] = set()
        for stored in self._source():
            key = _cache_key(stored)
            seen.add(key)
            if key not in self._cache:
                self._cache[key] = self._compile_or_warn(stored)
            compiled = self._cache[key]
            if compiled is not None:
                rules.append(compiled)
        for stale in set(self._cache) - seen:
            del self._cache[stale]
        return rules

    def compile(self, stored: StoredRule) -> TopicRule:
        """Raises `SqlParseError` when the SQL or an action's template is bad."""
        statement = compile_sql(stored.sql, stored.sql_version)
        actions = tuple(
            action
            for spec in stored.actions
            if (action := self._actions.build(spec, stored.name, stored.region))
        )
        error_action = (
            self._actions.build(stored.error_action, stored.name, stored.region)
            if stored.error_action
            else None
        )
        return TopicRule(
            name=stored.name,
            arn=stored.arn,
            account_id=stored.account_id,
            region=stored.region,
            statement=statement,
            actions=actions,
            error_action=error_action,
            enabled=not stored.disabled,
        )

    def _compile_or_warn(self, stored: StoredRule) -> TopicRule | None:
        try:
            return self.compile(stored)
        except IotError as error:
            # Rules created through the API were validated already; this is a
            # rule that arrived another way (CloudFormation, moto directly).
            logger.warning(
                "IoT rule %s in %s/%s is not run: %s",
                stored.name,
                stored.account_id,
                stored.region,
                error,
            )
            return None


def _cache_key(stored: StoredRule) -> tuple[str, ...]:
    return (
        stored.account_id,
        stored.region,
        stored.name,
        stored.sql,
        stored.sql_version or "",
        json.dumps(stored.actions, sort_keys=True, default=str),
        json.dumps(stored.error_action, sort_keys=True, default=str),
        "disabled" if stored.disabled else "enabled",
    )
