"""The baseline: what a classic containerised telemetry service does.

One paho MQTT subscriber (QoS 1, one connection, one thread) writes each
message with its own INSERT and COMMIT into PostgreSQL, acknowledging the
message once its callback returned. No queue, no batching, no functions.

Run by the benchmark as its own process, like a container would run it:

    python -m benchsuite.baseline --port P --username U --table T (DSN in env
    BASELINE_DSN, the broker password in MQTT_PASSWORD)

It prints `subscribed` once the broker confirmed the subscription, then runs
until SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from psycopg import sql

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS {} (
    machine_id  text NOT NULL,
    parameter   text NOT NULL,
    ts          timestamptz NOT NULL,
    value       double precision NOT NULL,
    sequence    bigint,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (machine_id, parameter, ts)
)
"""

_INSERT = (
    "INSERT INTO {} (machine_id, parameter, ts, value, sequence) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)


def create_table(conn: psycopg.Connection[Any], table: str) -> None:
    """The baseline's table: the readings columns and key, nothing else."""
    conn.execute(sql.SQL(CREATE_TABLE).format(sql.Identifier(table)))


class BaselineService:
    def __init__(self, conn: psycopg.Connection[Any], table: str) -> None:
        self._conn = conn
        self._insert = sql.SQL(_INSERT).format(sql.Identifier(table))
        self.subscribed = threading.Event()

    def on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe("machine/#", qos=1)

    def on_subscribe(self, *_: Any) -> None:
        self.subscribed.set()

    def on_message(self, _client: mqtt.Client, _data: Any, msg: Any) -> None:
        body = json.loads(msg.payload)
        items = body.get("readings") or [body]
        with self._conn.cursor() as cur:
            for item in items:
                cur.execute(
                    self._insert,
                    (
                        body["machine_id"],
                        item["parameter"],
                        body["timestamp"],
                        item["value"],
                        body.get("sequence"),
                    ),
                )
        self._conn.commit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--table", required=True)
    args = parser.parse_args(argv)

    conn = psycopg.connect(os.environ["BASELINE_DSN"])
    create_table(conn, args.table)
    conn.commit()
    service = BaselineService(conn, args.table)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"bench-baseline-{os.getpid()}",
        clean_session=True,
    )
    client.username_pw_set(args.username, os.environ["MQTT_PASSWORD"])
    client.on_connect = service.on_connect
    client.on_subscribe = service.on_subscribe
    client.on_message = service.on_message
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client.connect(args.host, args.port, keepalive=30)
    client.loop_start()
    if not service.subscribed.wait(30):
        print("not subscribed within 30 s", file=sys.stderr)
        return 1
    print("subscribed", flush=True)
    stop.wait()
    client.loop_stop()
    client.disconnect()
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
