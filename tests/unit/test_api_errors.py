"""Every bad input gets a 4xx with {"error", "message"} naming the problem."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_api_support import Api, Fleet, api, api_db, fleet

__all__ = ["api", "api_db", "fleet"]  # fixtures, imported for pytest

pytestmark = pytest.mark.integration

READINGS = "/machines/drill-001/readings"
SERIES = "/machines/drill-001/series"
T = {"parameter": "Temperature"}

# (method, path, query, body, status, error code, words the message must contain)
CASES: list[tuple[str, str, Any, Any, int, str, str]] = [
    ("GET", "/machines/drill-404", None, None, 404, "MachineNotFound", "drill-404"),
    (
        "GET",
        "/machines/drill-404/status",
        None,
        None,
        404,
        "MachineNotFound",
        "GET /machines",
    ),
    ("GET", "/machines/a+b", None, None, 400, "InvalidMachineId", '"a+b"'),
    ("GET", "/machine/status", None, None, 400, "MissingParameter", "machine_id"),
    (
        "GET",
        "/machine/status",
        {"machine_id": "x y"},
        None,
        400,
        "InvalidMachineId",
        "look like drill-001",
    ),
    (
        "GET",
        "/machine/status",
        {"machine_id": "drill-404"},
        None,
        404,
        "MachineNotFound",
        "drill-404",
    ),
    (
        "GET",
        "/machine/status",
        [("machine_id", "a"), ("machine_id", "b")],
        None,
        400,
        "DuplicateQueryParameter",
        "machine_id is given 2 times",
    ),
    (
        "GET",
        "/machines",
        {"status": "CRITICAL"},
        None,
        400,
        "UnknownQueryParameter",
        '"status"',
    ),
    ("GET", READINGS, None, None, 400, "MissingParameter", "parameter is required"),
    (
        "GET",
        READINGS,
        {"parameter": "Humidity"},
        None,
        400,
        "UnknownParameter",
        "Temperature",
    ),
    (
        "GET",
        READINGS,
        {"parameter": "Temp-1"},
        None,
        400,
        "UnknownParameter",
        "GET /parameters",
    ),
    (
        "GET",
        "/machines/drill-404/readings",
        T,
        None,
        404,
        "MachineNotFound",
        "drill-404",
    ),
    (
        "GET",
        READINGS,
        {**T, "from": "yesterday"},
        None,
        400,
        "InvalidTimestamp",
        "ISO-8601",
    ),
    (
        "GET",
        READINGS,
        {**T, "to": "2026-13-01T00:00:00Z"},
        None,
        400,
        "InvalidTimestamp",
        "2026-13-01",
    ),
    (
        "GET",
        READINGS,
        {**T, "from": "1960-01-01T00:00:00Z"},
        None,
        400,
        "InvalidTimestamp",
        "1970-01-01",
    ),
    (
        "GET",
        READINGS,
        {**T, "from": "999999999999999"},
        None,
        400,
        "InvalidTimestamp",
        "9999-12-30",
    ),
    (
        "GET",
        READINGS,
        {**T, "from": "2026-12-03T19:00:00Z", "to": "2026-12-03T18:00Z"},
        None,
        400,
        "InvalidTimeRange",
        "must be before to",
    ),
    (
        "GET",
        READINGS,
        {**T, "from": "2026-12-03T18:00:00Z", "to": "2026-12-03T18:00Z"},
        None,
        400,
        "InvalidTimeRange",
        "must be before to",
    ),
    (
        "GET",
        READINGS,
        {**T, "limit": "0"},
        None,
        400,
        "InvalidLimit",
        "between 1 and 10000",
    ),
    (
        "GET",
        READINGS,
        {**T, "limit": "10001"},
        None,
        400,
        "InvalidLimit",
        "10001 is out of range",
    ),
    ("GET", READINGS, {**T, "limit": "abc"}, None, 400, "InvalidLimit", '"abc"'),
    (
        "GET",
        READINGS,
        {**T, "limit": "1.5"},
        None,
        400,
        "InvalidLimit",
        "must be an integer",
    ),
    ("GET", READINGS, {**T, "order": "up"}, None, 400, "InvalidOrder", "asc, desc"),
    (
        "GET",
        READINGS,
        {**T, "next_token": "not-a-token"},
        None,
        400,
        "InvalidNextToken",
        "previous page",
    ),
    (
        "GET",
        READINGS,
        {**T, "next_token": "eyJ2IjoxLCJ0cyI6MCwibyI6ImFzYyJ9", "order": "desc"},
        None,
        400,
        "InvalidNextToken",
        "same order",
    ),
    (
        "GET",
        READINGS,
        {**T, "next_token": "eyJ2IjoxLCJ0cyI6IngiLCJvIjoiYXNjIn0"},
        None,
        400,
        "InvalidNextToken",
        "unchanged",
    ),
    (
        "GET",
        SERIES,
        {**T, "interval": "5x"},
        None,
        400,
        "InvalidInterval",
        "s, m, h or d",
    ),
    (
        "GET",
        SERIES,
        {**T, "interval": "0s"},
        None,
        400,
        "InvalidInterval",
        "positive whole number",
    ),
    (
        "GET",
        SERIES,
        {**T, "interval": "90s"},
        None,
        400,
        "InvalidInterval",
        "use 1m or 2m",
    ),
    ("GET", SERIES, {**T, "interval": "400d"}, None, 400, "InvalidInterval", "366d"),
    (
        "GET",
        SERIES,
        {
            **T,
            "interval": "1s",
            "from": "2026-12-01T00:00:00Z",
            "to": "2026-12-02T00:00:00Z",
        },
        None,
        400,
        "TooManyBuckets",
        "interval=10s",
    ),
    (
        "GET",
        SERIES,
        {"parameter": "Humidity"},
        None,
        400,
        "UnknownParameter",
        "Temperature",
    ),
    (
        "GET",
        SERIES,
        {**T, "to": "1970-01-01T00:00:00Z"},
        None,
        400,
        "InvalidTimeRange",
        "swap them",
    ),
    (
        "GET",
        "/parameters",
        {"machine_type": "Boat"},
        None,
        400,
        "UnknownMachineType",
        "Drilling",
    ),
    (
        "GET",
        "/alerts",
        {"state": "closed"},
        None,
        400,
        "InvalidState",
        "open, cleared, all",
    ),
    (
        "GET",
        "/alerts",
        {"severity": "LOW"},
        None,
        400,
        "InvalidSeverity",
        "WARNING, CRITICAL",
    ),
    (
        "GET",
        "/alerts",
        {"limit": "1001"},
        None,
        400,
        "InvalidLimit",
        "between 1 and 1000",
    ),
    ("GET", "/alerts", {"limit": "-3"}, None, 400, "InvalidLimit", "out of range"),
    (
        "GET",
        "/alerts",
        {"machine_id": "drill-404"},
        None,
        404,
        "MachineNotFound",
        "drill-404",
    ),
    ("POST", "/alerts/abc/ack", None, {}, 400, "InvalidAlertId", '"abc"'),
    ("POST", "/alerts/0/ack", None, {}, 400, "InvalidAlertId", "positive integer"),
    (
        "POST",
        "/alerts/99999999999999999999/ack",
        None,
        {},
        400,
        "InvalidAlertId",
        "positive integer",
    ),
    ("POST", "/alerts/424242/ack", None, {}, 404, "AlertNotFound", "424242"),
    (
        "POST",
        "/alerts/{alert}/ack",
        None,
        "{not json",
        400,
        "InvalidBody",
        "not valid JSON",
    ),
    (
        "POST",
        "/alerts/{alert}/ack",
        None,
        "[1, 2]",
        400,
        "InvalidBody",
        "JSON object, not list",
    ),
    (
        "POST",
        "/alerts/{alert}/ack",
        None,
        {"by": 5},
        400,
        "InvalidBody",
        "1 to 100 characters",
    ),
    ("POST", "/alerts/{alert}/ack", None, {"by": "   "}, 400, "InvalidBody", '"by"'),
    (
        "POST",
        "/alerts/{alert}/ack",
        None,
        {"by": "x" * 101},
        400,
        "InvalidBody",
        "1 to 100",
    ),
    ("POST", "/alerts/{alert}/ack", None, {"who": "bob"}, 400, "InvalidBody", '"who"'),
    (
        "POST",
        "/alerts/{alert}/ack",
        None,
        b"\xff\xfe",
        400,
        "InvalidBody",
        "not valid JSON",
    ),
    ("POST", "/alerts/{acked}/ack", None, {}, 409, "AlertAlreadyAcknowledged", "carol"),
    ("DELETE", "/machines", None, None, 405, "MethodNotAllowed", "allows GET"),
    (
        "POST",
        "/machines/drill-001/status",
        None,
        {},
        405,
        "MethodNotAllowed",
        "Unsupported method: POST",
    ),
]


@pytest.fixture
def seeded(fleet: Fleet) -> dict[str, int]:
    fleet.machine("drill-001")
    fleet.latest("drill-001", "Temperature", 700.0)
    return {
        "alert": fleet.alert("drill-001"),
        "acked": fleet.alert(
            "drill-001", "Torque", "WARNING", 71.0, 70.0, acknowledged_by="carol"
        ),
    }


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "status", "code", "words"),
    CASES,
    ids=[f"{c[0]} {c[1]} {c[2]} {c[3]!r:.30} -> {c[5]}" for c in CASES],
)
def test_bad_input_is_answered_with_a_4xx_naming_the_problem(
    api: Api,
    seeded: dict[str, int],
    method: str,
    path: str,
    query: Any,
    body: Any,
    status: int,
    code: str,
    words: str,
) -> None:
    path = path.format(**seeded)
    if method == "POST":
        reply = api.post(path, body, params=query)
    else:
        reply = api.request(method, path, query)

    assert reply.error()[:2] == (status, code), reply.body
    assert words in reply.body["message"]


def test_a_body_that_is_not_json_is_refused_as_unsupported_media_type(
    api: Api, seeded: dict[str, int]
) -> None:
    reply = api.post(
        f"/alerts/{seeded['alert']}/ack",
        "by=bob",
        headers={"Content-Type": "text/plain"},
    )

    status, code, message = reply.error()
    assert (status, code) == (415, "UnsupportedMediaType")
    assert "application/json" in message
