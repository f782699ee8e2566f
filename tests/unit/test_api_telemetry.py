"""Raw readings (keyset pages) and bucketed series (rollups or raw readings)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.models import ReadingsPage, Series
from tests.unit.test_api_support import (
    Api,
    Fleet,
    api,
    api_db,
    conforms,
    fleet,
    now,
    utc,
)

__all__ = ["api", "api_db", "fleet"]  # fixtures, imported for pytest

pytestmark = pytest.mark.integration

T0 = utc(2026, 12, 3, 18, 0, 0)


@pytest.fixture
def drill(fleet: Fleet) -> Fleet:
    fleet.machine("drill-001")
    fleet.latest("drill-001", "Temperature", 700.0)
    return fleet


def test_readings_come_oldest_first_within_from_inclusive_to_exclusive(
    api: Api, drill: Fleet
) -> None:
    drill.readings(
        "drill-001", "Temperature", [(T0 + timedelta(seconds=i), i) for i in range(10)]
    )
    drill.readings("drill-001", "Torque", [(T0, 55.0)])

    reply = api.get(
        "/machines/drill-001/readings",
        parameter="Temperature",
        **{"from": "2026-12-03T18:00:02Z", "to": "2026-12-03T18:00:05Z"},
    )

    assert reply.status == 200
    conforms(ReadingsPage, reply.body)
    assert [r["value"] for r in reply.body["readings"]] == [2.0, 3.0, 4.0]
    assert reply.body["readings"][0]["ts"] == "2026-12-03T18:00:02.000Z"
    assert reply.body["unit"] == "°C"
    assert reply.body["next_token"] is None
    assert reply.body["from"] == "2026-12-03T18:00:02.000Z"


def test_readings_accept_epoch_milliseconds_and_offsets(api: Api, drill: Fleet) -> None:
    drill.readings("drill-001", "Temperature", [(T0, 1.0), (T0 + timedelta(1), 2.0)])
    start_ms = int(T0.timestamp() * 1000)

    reply = api.get(
        "/machines/drill-001/readings",
        parameter="Temperature",
        **{"from": str(start_ms), "to": "2026-12-03T20:00:00+01:00"},
    )

    assert reply.status == 200
    assert [r["value"] for r in reply.body["readings"]] == [1.0]


def test_following_next_token_returns_every_reading_exactly_once(
    api: Api, drill: Fleet
) -> None:
    values = [(T0 + timedelta(milliseconds=250 * i), float(i)) for i in range(25)]
    drill.readings("drill-001", "Temperature", values)
    window = {"from": "2026-12-03T17:00:00Z", "to": "2026-12-03T19:00:00Z"}

    seen: list[float] = []
    token = None
    pages = 0
    while True:
        params = {"parameter": "Temperature", "limit": "10", **window}
        if token:
            params["next_token"] = token
        reply = api.get("/machines/drill-001/readings", **params)
        assert reply.status == 200
        seen += [r["value"] for r in reply.body["readings"]]
        pages += 1
        token = reply.body["next_token"]
        if token is None:
            break

    assert seen == [float(i) for i in range(25)]
    assert pages == 3


def test_descending_order_pages_newest_first(api: Api, drill: Fleet) -> None:
    drill.readings(
        "drill-001", "Temperature", [(T0 + timedelta(seconds=i), i) for i in range(5)]
    )
    window = {"from": "2026-12-03T17:00:00Z", "to": "2026-12-03T19:00:00Z"}

    first = api.get(
        "/machines/drill-001/readings",
        parameter="Temperature",
        order="desc",
        limit="3",
        **window,
    )
    second = api.get(
        "/machines/drill-001/readings",
        parameter="Temperature",
        order="desc",
        limit="3",
        next_token=first.body["next_token"],
        **window,
    )

    assert [r["value"] for r in first.body["readings"]] == [4.0, 3.0, 2.0]
    assert [r["value"] for r in second.body["readings"]] == [1.0, 0.0]
    assert second.body["next_token"] is None


def test_readings_default_to_the_last_hour(api: Api, drill: Fleet) -> None:
    current = now()
    drill.readings(
        "drill-001",
        "Temperature",
        [(current - timedelta(hours=2), 1.0), (current - timedelta(minutes=5), 2.0)],
    )

    reply = api.get("/machines/drill-001/readings", parameter="Temperature")

    assert [r["value"] for r in reply.body["readings"]] == [2.0]
    assert reply.body["limit"] == 1000


def test_a_known_parameter_without_data_has_no_readings(api: Api, drill: Fleet) -> None:
    reply = api.get("/machines/drill-001/readings", parameter="FeedRate", limit="10000")

    assert reply.status == 200
    assert reply.body["readings"] == []
    assert reply.body["count"] == 0


def test_series_of_a_minute_or_more_merge_the_minute_rollups(
    api: Api, drill: Fleet
) -> None:
    drill.rollup("drill-001", "Temperature", T0, [700.0, 710.0])
    drill.rollup("drill-001", "Temperature", T0 + timedelta(minutes=1), [720.0])
    drill.rollup("drill-001", "Temperature", T0 + timedelta(minutes=5), [650.0, 660.0])

    reply = api.get(
        "/machines/drill-001/series",
        parameter="Temperature",
        interval="5m",
        **{"from": "2026-12-03T18:00:00Z", "to": "2026-12-03T18:10:00Z"},
    )

    assert reply.status == 200
    conforms(Series, reply.body)
    assert reply.body["source"] == "rollups_minute"
    assert reply.body["interval_seconds"] == 300
    assert reply.body["points"] == [
        {
            "ts": "2026-12-03T18:00:00.000Z",
            "min": 700.0,
            "max": 720.0,
            "avg": 710.0,
            "count": 3,
        },
        {
            "ts": "2026-12-03T18:05:00.000Z",
            "min": 650.0,
            "max": 660.0,
            "avg": 655.0,
            "count": 2,
        },
    ]


def test_series_shorter_than_a_minute_bucket_raw_readings(
    api: Api, drill: Fleet
) -> None:
    drill.readings(
        "drill-001",
        "Temperature",
        [(T0 + timedelta(seconds=s), float(s)) for s in (0, 3, 9, 10, 19)],
    )

    reply = api.get(
        "/machines/drill-001/series",
        parameter="Temperature",
        interval="10s",
        **{"from": "2026-12-03T18:00:00Z", "to": "2026-12-03T18:01:00Z"},
    )

    assert reply.status == 200
    assert reply.body["source"] == "readings"
    assert [
        (p["min"], p["max"], p["avg"], p["count"]) for p in reply.body["points"]
    ] == [
        (0.0, 9.0, 4.0, 3),
        (10.0, 19.0, 14.5, 2),
    ]


@pytest.mark.parametrize(
    ("hours", "interval", "source"),
    [
        (0.25, "1s", "readings"),
        (1, "2s", "readings"),
        (24, "1m", "rollups_minute"),
        (24 * 30, "30m", "rollups_minute"),
    ],
)
def test_auto_interval_keeps_charts_within_two_thousand_points(
    api: Api, drill: Fleet, hours: float, interval: str, source: str
) -> None:
    end = T0
    start = end - timedelta(hours=hours)

    reply = api.get(
        "/machines/drill-001/series",
        parameter="Temperature",
        **{"from": start.isoformat(), "to": end.isoformat()},
    )

    assert reply.status == 200
    assert reply.body["interval"] == interval
    assert reply.body["source"] == source


def test_series_default_to_the_last_hour(api: Api, drill: Fleet) -> None:
    reply = api.get("/machines/drill-001/series", parameter="Temperature")

    assert reply.status == 200
    assert reply.body["interval"] == "2s"
    assert reply.body["points"] == []
