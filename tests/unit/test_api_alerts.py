"""Alerts: listing by state, severity and machine; acknowledging."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.models import Alert, AlertList
from tests.unit.test_api_support import Api, Fleet, api, api_db, conforms, fleet, now

__all__ = ["api", "api_db", "fleet"]  # fixtures, imported for pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def alerts(fleet: Fleet) -> dict[str, int]:
    fleet.machine("drill-001")
    fleet.machine("mill-001", "Milling")
    base = now() - timedelta(hours=1)
    return {
        "cleared": fleet.alert("drill-001", opened_at=base, cleared_at=base),
        "acked": fleet.alert(
            "drill-001",
            "Torque",
            "WARNING",
            72.0,
            70.0,
            opened_at=base + timedelta(minutes=1),
            acknowledged_by="alice",
        ),
        "open": fleet.alert("mill-001", opened_at=base + timedelta(minutes=2)),
    }


def ids(reply_body: dict[str, object]) -> list[object]:
    return [a["alert_id"] for a in reply_body["alerts"]]  # type: ignore[attr-defined]


def test_open_alerts_are_listed_newest_first_including_acknowledged_ones(
    api: Api, alerts: dict[str, int]
) -> None:
    reply = api.get("/alerts")

    assert reply.status == 200
    conforms(AlertList, reply.body)
    assert ids(reply.body) == [alerts["open"], alerts["acked"]]
    acked = reply.body["alerts"][1]
    assert acked["acknowledged"] is True
    assert acked["acknowledged_by"] == "alice"
    assert acked["state"] == "open"
    assert acked["unit"] == "N·m"
    assert reply.body["state"] == "open"


def test_cleared_and_all_states_list_past_alerts(
    api: Api, alerts: dict[str, int]
) -> None:
    cleared = api.get("/alerts", state="cleared")
    everything = api.get("/alerts", state="all")

    assert ids(cleared.body) == [alerts["cleared"]]
    assert cleared.body["alerts"][0]["state"] == "cleared"
    assert ids(everything.body) == [alerts["open"], alerts["acked"], alerts["cleared"]]


def test_alerts_filter_by_severity_case_insensitively_machine_and_limit(
    api: Api, alerts: dict[str, int]
) -> None:
    warnings = api.get("/alerts", state="all", severity="warning")
    mill = api.get("/alerts", state="all", machine_id="mill-001")
    newest = api.get("/alerts", state="all", limit="1")

    assert ids(warnings.body) == [alerts["acked"]]
    assert ids(mill.body) == [alerts["open"]]
    assert ids(newest.body) == [alerts["open"]]
    assert newest.body["limit"] == 1


def test_acknowledging_records_who_and_keeps_the_alert_open(
    api: Api, alerts: dict[str, int]
) -> None:
    reply = api.post(f"/alerts/{alerts['open']}/ack", {"by": "  bob "})

    assert reply.status == 200
    conforms(Alert, reply.body)
    assert reply.body["acknowledged"] is True
    assert reply.body["acknowledged_by"] == "bob"
    assert reply.body["state"] == "open"
    assert alerts["open"] in ids(api.get("/alerts").body)


def test_acknowledging_needs_no_body(api: Api, alerts: dict[str, int]) -> None:
    reply = api.post(f"/alerts/{alerts['open']}/ack", "")

    assert reply.status == 200
    assert reply.body["acknowledged"] is True
    assert reply.body["acknowledged_by"] is None


def test_a_cleared_alert_can_still_be_acknowledged(
    api: Api, alerts: dict[str, int]
) -> None:
    reply = api.post(f"/alerts/{alerts['cleared']}/ack", {})

    assert reply.status == 200
    assert reply.body["state"] == "cleared"


def test_acknowledging_twice_is_a_conflict_naming_who_was_first(
    api: Api, alerts: dict[str, int]
) -> None:
    status, code, message = api.post(
        f"/alerts/{alerts['acked']}/ack", {"by": "bob"}
    ).error()

    assert (status, code) == (409, "AlertAlreadyAcknowledged")
    assert "alice" in message


def test_acknowledging_an_unknown_alert_is_not_found(
    api: Api, alerts: dict[str, int]
) -> None:
    status, code, message = api.post("/alerts/999999/ack", {}).error()

    assert (status, code) == (404, "AlertNotFound")
    assert "999999" in message
