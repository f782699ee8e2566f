"""AWS IoT rule SQL as the local cloud's rules engine compiles and evaluates it."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from localcloud.iot.errors import RuleEvaluationError, SqlParseError
from localcloud.iot.message import Message
from localcloud.iot.sql import compile_sql
from localcloud.iot.templates import compile_template
from localcloud.iot.topics import (
    filters_overlap,
    subscription_filters,
    topic_matches,
    validate_topic_filter,
)

pytestmark = pytest.mark.unit

TELEMETRY = {
    "machine_id": "drill-001",
    "machine_type": "Drilling",
    "parameter": "Temperature",
    "value": 812.4,
    "unit": "°C",
    "timestamp": "2026-12-03T19:58:01.123Z",
    "sequence": 42,
    "nested": {"a": {"b": 7}, "list": [1, 2, 3]},
    "flag": True,
    "nothing": None,
}


def message(
    payload: Any = TELEMETRY, topic: str = "machine/drill-001/Temperature"
) -> Message:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Message(topic, raw, timestamp_ms=1_700_000_000_123, client_id="device-1")


def select(sql: str, payload: Any = TELEMETRY, **kwargs: Any) -> Any:
    result = compile_sql(sql).evaluate(message(payload, **kwargs))
    return None if result is None else json.loads(result) if result else ""


def value_of(expression: str, payload: Any = TELEMETRY) -> Any:
    """The value of one expression, or the string 'Undefined' if it has none."""
    result = select(f"SELECT {expression} AS v FROM '#'", payload)
    return result.get("v", "Undefined")


def test_the_project_rule_adds_topic_levels_and_receive_time_to_the_message() -> None:
    result = select(
        "SELECT *, topic(2) AS machine_id, topic(3) AS parameter, "
        "timestamp() AS received_at FROM 'machine/+/+'",
        {**TELEMETRY, "machine_id": "from-payload"},
        topic="machine/drill-007/telemetry",
    )

    assert result["machine_id"] == "drill-007"
    assert result["parameter"] == "telemetry"
    assert result["received_at"] == 1_700_000_000_123
    assert result["value"] == 812.4
    assert result["unit"] == "°C"


def test_select_star_forwards_the_payload_bytes_unchanged() -> None:
    raw = b'{"b": 1,   "a": 2}'

    assert compile_sql("SELECT * FROM 'a/b'").evaluate(message(raw, topic="a/b")) == raw


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT value, unit FROM 'm/#'", {"value": 812.4, "unit": "°C"}),
        ("SELECT nested.a.b FROM 'm/#'", {"b": 7}),
        ("SELECT nested.a.b AS deep.key FROM 'm/#'", {"deep": {"key": 7}}),
        ("SELECT missing, value FROM 'm/#'", {"value": 812.4}),
        ("SELECT nothing FROM 'm/#'", {"nothing": None}),
        ("SELECT 15 AS speed, 'x' AS s, true AS t, null AS n FROM 'm/#'",
         {"speed": 15, "s": "x", "t": True, "n": None}),
        ("SELECT (sequence - 32) * 5 / 9 AS c FROM 'm/#'", {"c": 5}),
        ("SELECT upper(unit) AS u, lower('AB') AS l FROM 'm/#'",
         {"u": "°C", "l": "ab"}),
        ("SELECT [1, value] AS a, {'k': sequence} AS o FROM 'm/#'",
         {"a": [1, 812.4], "o": {"k": 42}}),
    ],
)  # fmt: skip
def test_select_items_fields_aliases_and_literals(sql: str, expected: Any) -> None:
    assert select(sql) == expected


def test_select_value_gives_a_payload_that_is_not_an_object() -> None:
    assert select("SELECT VALUE unit FROM 'm/#'") == "°C"
    assert select("SELECT VALUE nested.list FROM 'm/#'") == [1, 2, 3]


def test_a_field_called_value_is_a_field_not_the_value_keyword() -> None:
    assert select("SELECT value FROM 'm/#'") == {"value": 812.4}
    assert select("SELECT value + 1 AS v FROM 'm/#'") == {"v": 813.4}


def test_an_alias_overrides_the_same_key_from_star() -> None:
    assert select("SELECT *, 'x' AS unit FROM 'm/#'")["unit"] == "x"


@pytest.mark.parametrize(
    ("where", "selected"),
    [
        ("value > 800", True),
        ("value > 800 AND unit = '°C'", True),
        ("value < 800 OR sequence = 42", True),
        ("NOT (value > 800)", False),
        ("value >= 812.4 AND value <= 812.4", True),
        ("sequence <> 42", False),
        ("sequence != 41", True),
        ("nothing IS NULL", True),
        ("missing IS NULL", False),
        ("missing IS NOT NULL", False),
        ("value IS NOT NULL", True),
        ("missing IS UNDEFINED", True),
        ("missing > 1", False),
        ("NOT missing", False),
        ("topic(2) = 'drill-001'", True),
        ("sequence IN [1, 42]", True),
        ("'42' > 41", True),
        ("unit = 1", False),
        ("flag", True),
        ("flag = 'true'", False),
    ],
)
def test_where_clauses(where: str, selected: bool) -> None:
    result = select(f"SELECT sequence FROM 'machine/#' WHERE {where}")

    assert (result is not None) is selected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("7 / 2", 3),
        ("-7 / 2", -3),
        ("7.0 / 2", 3.5),
        ("7 % 3", 1),
        ("-7 % 3", -1),
        ("1 / 0", "Undefined"),
        ("'3' * 2", 6.0),
        ("'abc' * 2", "Undefined"),
        ("'a' + 1", "a1"),
        ("1 + 'a'", "1a"),
        ("true + 1", "Undefined"),
        ("missing + 1", "Undefined"),
        ("- sequence", -42),
        ("abs(-3)", 3),
        ("round(2.5)", 3),
        ("round(-2.5)", -3),
        ("floor(2.7)", 2),
        ("ceil('2.1')", 3),
        ("power(2, 10)", 1024.0),
        ("sqrt(-1)", "Undefined"),
        ("mod(7, 3)", 1),
        ("concat('a', 'b', 1)", "ab1"),
        ("length('abc')", 3),
        ("substring('abcdef', 2, 4)", "cd"),
        ("replace('a-b-c', '-', '+')", "a+b+c"),
        ("trim('  x ')", "x"),
        ("startswith(topic(), 'machine')", True),
        ("indexof('abc', 'c')", 2),
        ("regexp_matches('drill-001', '^drill-[0-9]+$')", True),
        ("regexp_replace('a1b22', '([0-9]+)', '<$1>')", "a<1>b<22>"),
        ("regexp_substr('abc123def', '[0-9]+')", "123"),
        ("md5('a')", "0cc175b9c0f1b6a831c399e269772661"),
        ("get(nested.list, 1)", 2),
        ("get(nested, 'a')", {"b": 7}),
        ("isNull(nothing)", True),
        ("isUndefined(missing)", True),
        ("cast(value AS Int)", 812),
        ("cast('12.5' AS Decimal)", 12.5),
        ("cast(sequence AS String)", "42"),
        ("cast(1 AS Boolean)", True),
        ("encode('hi', 'base64')", "aGk="),
        ("decode('aGk=', 'base64')", "hi"),
        ("topic()", "machine/drill-001/Temperature"),
        ("topic(3)", "Temperature"),
        ("topic(9)", "Undefined"),
        ("clientid()", "device-1"),
        ("timestamp()", 1_700_000_000_123),
        ("accountid()", "123456789012"),
        ("CASE sequence WHEN 1 THEN 'one' WHEN 42 THEN 'answer' END", "answer"),
        ("CASE WHEN value > 1000 THEN 'hot' ELSE 'ok' END", "ok"),
        ("CASE sequence WHEN 1 THEN 'one' END", "Undefined"),
    ],
)
def test_operators_and_functions_follow_aws_tables(
    expression: str, expected: Any
) -> None:
    assert value_of(expression) == expected


def test_newuuid_and_traceid_are_uuids_that_differ_per_call() -> None:
    result = select("SELECT newuuid() AS a, newuuid() AS b FROM 'm/#'")

    assert len(result["a"]) == 36
    assert result["a"] != result["b"]


def test_binary_payloads_pass_through_select_star_and_encode_to_base64() -> None:
    raw = bytes(range(256))

    assert compile_sql("SELECT * FROM 'cam/+'").evaluate(message(raw, "cam/1")) == raw
    encoded = select(
        "SELECT encode(*, 'base64') AS data FROM 'cam/+'", raw, topic="cam/1"
    )
    assert base64.b64decode(encoded["data"]) == raw


def test_a_binary_payload_does_not_meet_a_where_clause_on_its_fields() -> None:
    assert (
        select("SELECT * FROM 'cam/+' WHERE size > 1", b"\xff\x00", topic="cam/1")
        is None
    )


def test_select_star_with_more_items_needs_a_json_object() -> None:
    statement = compile_sql("SELECT *, topic(2) AS id FROM 'cam/+'")

    with pytest.raises(RuleEvaluationError, match="needs a JSON object payload"):
        statement.evaluate(message(b"\xff\x00", "cam/1"))


@pytest.mark.parametrize(
    ("sql", "quoted"),
    [
        ("SELECT aws_lambda('arn:f', *) FROM 'a'",
         "Unsupported function aws_lambda() in \"aws_lambda('arn:f', *)\""),
        ("SELECT parse_time('yyyy', timestamp()) FROM 'a'", "parse_time()"),
        ("SELECT foo(1) FROM 'a'", "Unsupported function foo() in 'foo(1)'"),
        ("SELECT * FROM 'a' LIMIT 3", "the LIMIT clause in 'LIMIT 3' is not supported"),
        ("SELECT (SELECT x FROM y) FROM 'a'", "nested SELECT"),
        ("SELECT a[0] FROM 'a'", "unexpected '['"),
        ("SELECT a ~ b FROM 'a'", "unexpected character '~'"),
        ("SELECT cast(a AS Blob) FROM 'a'",
         "Unsupported cast type in 'cast(a AS Blob)'"),
        ("SELECT topic(1, 2) FROM 'a'", "topic() takes 0 to 1 argument(s), got 2"),
        ("SELECT * FROM 'a/#/b'", "'#' must be a whole level and the last one"),
        ("SELECT * FROM 'a' WHERE", "Incomplete SQL"),
        ("SELECT * FROM a", "unexpected 'a'"),
    ],
)  # fmt: skip
def test_sql_the_engine_cannot_run_is_rejected_quoting_the_part(
    sql: str, quoted: str
) -> None:
    with pytest.raises(SqlParseError) as raised:
        compile_sql(sql)

    assert quoted in str(raised.value)


def test_an_unknown_sql_version_is_rejected_naming_the_supported_ones() -> None:
    with pytest.raises(SqlParseError, match="use one of 2015-10-08, 2016-03-23"):
        compile_sql("SELECT * FROM 'a'", "beta")


def test_keywords_are_case_insensitive_and_prefixes_of_names_are_names() -> None:
    result = select(
        "select notes, selected, isnull(nothing) as n from 'm/#' where flag and true",
        {"notes": 1, "selected": 2, "nothing": None, "flag": True},
    )

    assert result == {"notes": 1, "selected": 2, "n": True}


def test_substitution_templates_read_the_incoming_message() -> None:
    template = compile_template("alerts/${topic(2)}/${upper(unit)}-${missing}")

    assert template.render(message()) == "alerts/drill-001/°C-"


def test_an_invalid_substitution_template_is_rejected_quoting_it() -> None:
    with pytest.raises(
        SqlParseError, match=r"Invalid substitution template '\$\{topic\(\}'"
    ):
        compile_template("alerts/${topic(}")


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("machine/+/+", "machine/drill-001/Temperature", True),
        ("machine/+/+", "machine/drill-001", False),
        ("machine/#", "machine", True),
        ("machine/#", "machine/a/b/c", True),
        ("#", "$SYS/broker/uptime", False),
        ("+/x", "$aws/x", False),
        ("$aws/+", "$aws/x", True),
    ],
)
def test_topic_filters_match_like_mqtt(
    topic_filter: str, topic: str, matches: bool
) -> None:
    assert topic_matches(topic_filter, topic) is matches


def test_invalid_topic_filters_are_named() -> None:
    assert validate_topic_filter("a/b+") == "'+' must be a whole level"
    assert validate_topic_filter("a/b") is None


def test_overlapping_rule_filters_become_one_subscription() -> None:
    assert filters_overlap("a/+/c", "a/b/+")
    assert not filters_overlap("a/b", "a/b/c")
    assert subscription_filters({"a/+/c", "a/b/+", "alerts/#"}) == {"a/+/+", "alerts/#"}
    assert subscription_filters({"x/#", "x", "$aws/rules/r"}) == {"x/#", "$aws/rules/r"}
