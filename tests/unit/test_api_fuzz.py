"""No client input produces a 5xx: a seeded random walk over every route with
hostile values (a fuzz loop without Hypothesis, reproducible by its seed)."""

from __future__ import annotations

import os
import random
from typing import Any

import pytest

import app as api_app
from chalicelib import models
from tests.unit.test_api_support import Api, Fleet, api, api_db, fleet

__all__ = ["api", "api_db", "fleet"]  # fixtures, imported for pytest

pytestmark = pytest.mark.integration

SEED = 20261203
# More rounds for a bug hunt: ORCHESTRALINK_FUZZ_ROUNDS=20000 pytest ...
ROUNDS = int(os.environ.get("ORCHESTRALINK_FUZZ_ROUNDS", "400"))

HOSTILE = [
    "",
    " ",
    "\x00",
    "\t",
    "'; DROP TABLE readings; --",
    "' OR 1=1 --",
    "%",
    "%00",
    "9" * 40,
    "-1",
    "0",
    "1",
    "10000",
    "10001",
    "1e309",
    "NaN",
    "Infinity",
    "-0",
    "0x10",
    "\uff11\uff12",  # fullwidth digits
    "1.0",
    "+5",
    "ü",
    "🔥",
    "a" * 5000,
    "null",
    "[]",
    "{}",
    "2026-02-30T00:00:00Z",
    "2026-12-03T25:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-30T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "1970-01-01T00:00:00Z",
    "2026-12-03T18:00:00+14:00",
    "2026-12-03T18:00:00-12:00",
    "2026-12-03",
    "999999999999999",
    "253402214400000",
    "auto",
    "1s",
    "59s",
    "60s",
    "61s",
    "1m",
    "366d",
    "367d",
    "999999d",
    "1d",
    "Temperature",
    "temperature",
    "Torque",
    "drill-001",
    "mill-001",
    "drill-404",
    "asc",
    "desc",
    "open",
    "cleared",
    "all",
    "WARNING",
    "critical",
    "eyJ2IjoxLCJ0cyI6MCwibyI6ImFzYyJ9",
    "eyJ2IjoxLCJ0cyI6LTEsIm8iOiJhc2MifQ",
    "eyJ2IjoxLCJ0cyI6OTk5OTk5OTk5OTk5OTk5OTk5OTk5LCJvIjoiYXNjIn0",
    "W10",
    "bnVsbA",
]
SEGMENTS = [
    "drill-001",
    "drill-404",
    "\x00",
    "a b",
    "..",
    "🔥",
    "x" * 300,
    "+",
    "%2F",
    "1",
    "0",
    "-5",
    "99999999999999999999",
    "1.5",
]
BODIES: list[str | bytes] = [
    "",
    "{}",
    '{"by": "ann"}',
    '{"by": null}',
    '{"by": ""}',
    '{"by": 1}',
    '{"by": ["a"]}',
    '{"by": "\\u0000"}',
    "null",
    "[]",
    "3",
    '"x"',
    "{",
    "\x00",
    b"\xff\xfe\x00",
    '{"by": "' + "b" * 200 + '"}',
    '{"by": "ann", "x": 1}',
]
RESPONSE_MODEL = {
    "/health": models.Health,
    "/machines": models.MachineList,
    "/machines/{machine_id}": models.MachineDetail,
    "/machines/{machine_id}/status": models.MachineStatus,
    "/machine/status": models.MachineStatus,
    "/machines/{machine_id}/readings": models.ReadingsPage,
    "/machines/{machine_id}/series": models.Series,
    "/parameters": models.ParameterCatalog,
    "/alerts": models.AlertList,
    "/alerts/{alert_id}/ack": models.Alert,
}


def query_names(path: str) -> list[str]:
    from chalicelib.routing import route_doc

    for entry in api_app.app.routes[path].values():
        doc = route_doc(entry)
        if doc is not None:
            return [p.name for p in doc.query.params]
    return []


def concrete_path(template: str, rng: random.Random) -> str:
    """Fill path parameters: half the time plausibly, half the time with junk
    (unencoded, as API Gateway hands decoded path parameters to the function)."""
    parts = []
    for part in template.split("/"):
        if not part.startswith("{"):
            parts.append(part)
        elif rng.random() < 0.5:
            parts.append(rng.choice(SEGMENTS))
        else:
            parts.append("drill-001" if part == "{machine_id}" else "1")
    return "/".join(parts)


def random_request(
    rng: random.Random,
) -> tuple[str, str, str, list[tuple[str, str]], Any]:
    template = rng.choice(sorted(api_app.app.routes))
    methods = sorted(api_app.app.routes[template])
    method = "DELETE" if rng.random() < 0.1 else rng.choice(methods)
    names = [*query_names(template), "bogus"]
    query = [(rng.choice(names), rng.choice(HOSTILE)) for _ in range(rng.randint(0, 4))]
    body = rng.choice(BODIES) if method == "POST" else None
    return template, method, concrete_path(template, rng), query, body


def test_no_input_produces_a_server_error_and_every_reply_keeps_its_contract(
    api: Api, fleet: Fleet
) -> None:
    fleet.machine("drill-001")
    fleet.latest("drill-001", "Temperature", 1001.0)
    fleet.alert("drill-001")
    rng = random.Random(SEED)
    statuses: dict[int, int] = {}

    for _ in range(ROUNDS):
        template, method, path, query, body = random_request(rng)
        if method == "POST":
            reply = api.post(path, body, params=query)
        else:
            reply = api.request(method, path, query)
        statuses[reply.status] = statuses.get(reply.status, 0) + 1
        context = (method, path, query, body, reply.body)

        assert reply.status < 500, context
        if reply.status >= 400:
            assert set(reply.body) == {"error", "message"}, context
            assert reply.body["message"], context
        elif template in RESPONSE_MODEL:
            RESPONSE_MODEL[template].model_validate(reply.body)

    assert statuses.get(200, 0) > 20, statuses  # the walk reaches real answers too
    assert statuses.get(400, 0) > 100, statuses
