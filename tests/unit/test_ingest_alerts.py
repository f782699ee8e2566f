"""Alert transitions follow the readings in time order, and alert events reach
`alerts/{machine_id}` through the iot-data Publish API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws
from moto.iotdata.models import iotdata_backends

from ingest.publisher import AlertPublisher
from orchestralink.alerts import (
    AlertEvent,
    ClassifiedReading,
    OpenAlert,
    alert_changes,
)
from orchestralink.catalog import Status

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 3, 19, 58, tzinfo=UTC)
THRESHOLDS: dict[Status, float | None] = {
    "NORMAL": None,
    "WARNING": 900.0,
    "CRITICAL": 1000.0,
}


def readings(*statuses: Status) -> list[ClassifiedReading]:
    return [
        ClassifiedReading(T0 + timedelta(seconds=i), 100.0 + i, s, THRESHOLDS[s])
        for i, s in enumerate(statuses)
    ]


def actions(open_alert: OpenAlert | None, *statuses: Status) -> list[str]:
    return [
        f"{c.action} {c.severity}"
        for c in alert_changes(open_alert, readings(*statuses))
    ]


OPEN_WARNING = OpenAlert(7, "WARNING", 900.0, T0 - timedelta(minutes=1))
OPEN_CRITICAL = OpenAlert(7, "CRITICAL", 1000.0, T0 - timedelta(minutes=1))


def test_normal_readings_change_nothing() -> None:
    assert actions(None, "NORMAL", "NORMAL") == []


def test_a_crossing_opens_an_alert_at_its_severity() -> None:
    assert actions(None, "NORMAL", "CRITICAL", "CRITICAL") == ["opened CRITICAL"]


def test_a_warning_alert_escalates_once_to_critical() -> None:
    assert actions(OPEN_WARNING, "WARNING", "CRITICAL", "CRITICAL") == [
        "escalated CRITICAL"
    ]


def test_a_critical_alert_does_not_fall_back_to_warning() -> None:
    assert actions(OPEN_CRITICAL, "WARNING", "CRITICAL", "WARNING") == []


def test_a_return_to_normal_clears_the_open_alert() -> None:
    [change] = alert_changes(OPEN_CRITICAL, readings("WARNING", "NORMAL"))

    assert (change.action, change.severity, change.threshold) == (
        "cleared",
        "CRITICAL",
        1000.0,
    )
    assert change.reading.ts == T0 + timedelta(seconds=1)


def test_one_batch_may_open_clear_and_open_again() -> None:
    assert actions(None, "WARNING", "NORMAL", "CRITICAL") == [
        "opened WARNING",
        "cleared WARNING",
        "opened CRITICAL",
    ]


def test_an_escalation_quotes_the_critical_threshold() -> None:
    [change] = alert_changes(OPEN_WARNING, readings("CRITICAL"))

    assert (change.previous_severity, change.threshold) == ("WARNING", 1000.0)


EVENT = AlertEvent(
    event="escalated",
    alert_id=7,
    machine_id="drill-001",
    machine_type="Drilling",
    parameter="Temperature",
    unit="°C",
    severity="CRITICAL",
    previous_severity="WARNING",
    value=1234.5,
    threshold=1000.0,
    timestamp=datetime(2026, 12, 3, 19, 58, 1, 123456, tzinfo=UTC),
    opened_at=T0,
    cleared_at=None,
)


def test_an_alert_event_is_json_with_millisecond_utc_times() -> None:
    assert EVENT.topic == "alerts/drill-001"
    assert EVENT.to_json_dict() == {
        "event": "escalated",
        "alert_id": 7,
        "machine_id": "drill-001",
        "machine_type": "Drilling",
        "parameter": "Temperature",
        "unit": "°C",
        "severity": "CRITICAL",
        "previous_severity": "WARNING",
        "value": 1234.5,
        "threshold": 1000.0,
        "timestamp": "2026-12-03T19:58:01.123Z",
        "opened_at": "2026-12-03T19:58:00.000Z",
        "cleared_at": None,
    }


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("IOT_DATA_ENDPOINT", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


def test_the_publisher_sends_each_event_to_its_machine_topic(aws: None) -> None:
    result = AlertPublisher().publish([EVENT])

    assert (result.published, result.failures) == (1, [])
    [(topic, payload)] = iotdata_backends["123456789012"][
        "us-east-1"
    ].published_payloads
    assert topic == "alerts/drill-001"
    assert json.loads(payload) == EVENT.to_json_dict()


def test_the_publisher_uses_the_endpoint_from_the_environment(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOT_DATA_ENDPOINT", "abc123-ats.iot.us-east-1.amazonaws.com")

    client = AlertPublisher().client

    assert client.meta.endpoint_url == "https://abc123-ats.iot.us-east-1.amazonaws.com"


def test_a_refused_publish_is_returned_as_a_failure_not_raised(aws: None) -> None:
    client = boto3.client("iot-data")

    def refuse(**_: object) -> None:
        raise client.exceptions.ForbiddenException(
            {"Error": {"Code": "ForbiddenException", "Message": "not allowed"}},
            "Publish",
        )

    client.publish = refuse

    result = AlertPublisher(client).publish([EVENT, EVENT])

    assert result.published == 0
    assert [
        (event.alert_id, "ForbiddenException" in error)
        for event, error in result.failures
    ] == [(7, True), (7, True)]
