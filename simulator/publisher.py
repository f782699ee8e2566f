"""MQTT publishing with QoS 1, bounded buffering, reconnects and acknowledgement counts.

paho-mqtt's network thread (`loop_start`) does the I/O and reconnects by itself with
exponential backoff (`reconnect_delay_set`); this module logs every attempt, counts
PUBACKs, and bounds how many messages may wait unacknowledged. paho keeps QoS 1
messages queued while the broker is away and resends them after a reconnect, so an
outage loses nothing until the bound is reached; past it, the real-time mode drops
the newest readings (counted) and the load mode waits, which is what "as fast as the
broker takes them" means.

paho calls `on_publish` while holding its own message lock, so this module never
holds its lock while calling into paho.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from simulator.errors import SimulatorError

logger = logging.getLogger(__name__)

QOS = 1


@dataclass(frozen=True)
class BrokerSettings:
    """Where the broker is and how to log in to it."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    tls_ca_file: str | None = None
    client_id: str = ""
    keepalive: int = 30

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class DeliveryStats:
    """What happened to the messages handed to the publisher."""

    published: int
    acknowledged: int
    dropped: int
    outstanding: int
    connections: int
    connection_failures: int
    disconnections: int


def default_client_id() -> str:
    return f"orchestralink-simulator-{os.getpid()}-{secrets.token_hex(3)}"


class MqttPublisher:
    """A QoS 1 publisher that survives broker restarts."""

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        max_inflight: int = 100,
        max_buffered: int = 10_000,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
    ) -> None:
        self.settings = settings
        self._max_buffered = max(1, max_buffered)
        self._reconnect_min = reconnect_min
        self._reconnect_max = reconnect_max

        self._lock = threading.Condition()
        self._connected = threading.Event()
        self._closing = False
        self._delay: float | None = None
        self._published = 0
        self._acknowledged = 0
        self._dropped = 0
        self._connections = 0
        self._connection_failures = 0
        self._disconnections = 0
        self._warned_full = False

        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=settings.client_id or default_client_id(),
            clean_session=True,
        )
        self._client.max_inflight_messages_set(max_inflight)
        # paho annotates the delays as int but only does arithmetic with them.
        self._client.reconnect_delay_set(reconnect_min, reconnect_max)  # type: ignore[arg-type]
        if settings.username is not None:
            self._client.username_pw_set(settings.username, settings.password)
        if settings.tls:
            try:
                self._client.tls_set(ca_certs=settings.tls_ca_file)
            except (OSError, ValueError) as error:
                raise SimulatorError(
                    f"cannot set up TLS with CA file {settings.tls_ca_file!r}: "
                    f"{error}; point --tls-ca-file (MQTT_TLS_CA_FILE) at a PEM file"
                ) from error
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Begin connecting in the background; paho retries until it succeeds."""
        logger.info(
            "connecting to mqtt%s://%s as %s",
            "s" if self.settings.tls else "",
            self.settings.address,
            self.settings.username or "anonymous",
        )
        self._client.connect_async(
            self.settings.host, self.settings.port, self.settings.keepalive
        )
        self._client.loop_start()

    def wait_connected(
        self, timeout: float | None, stop: threading.Event | None = None
    ) -> bool:
        """Wait for a connection; None waits until connected or `stop` is set."""
        waited = 0.0
        while not self._connected.is_set():
            if stop is not None and stop.is_set():
                return False
            if timeout is not None and waited >= timeout:
                return False
            self._connected.wait(0.1)
            waited += 0.1
        return True

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def drain(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for every published message's PUBACK."""
        with self._lock:
            return self._lock.wait_for(lambda: self._outstanding() == 0, timeout)

    def close(self) -> None:
        """Disconnect and stop the network thread (unacknowledged messages are lost)."""
        self._closing = True
        self._client.disconnect()
        self._client.loop_stop()
        # paho's callbacks are bound methods of this object: drop them so the client
        # is freed (and its wake-up sockets closed) as soon as the publisher is.
        self._client.on_connect = None
        self._client.on_connect_fail = None
        self._client.on_disconnect = None
        self._client.on_publish = None

    # -- publishing --------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        block: bool = False,
        stop: threading.Event | None = None,
    ) -> bool:
        """Queue one QoS 1 message; False when it was dropped or the run stopped.

        With block=False a full buffer drops the message (real-time mode); with
        block=True the caller waits for acknowledgements to make room (load mode).
        """
        with self._lock:
            if self._outstanding() >= self._max_buffered:
                if not block:
                    self._drop_locked()
                    return False
                while self._outstanding() >= self._max_buffered:
                    if stop is not None and stop.is_set():
                        return False
                    self._lock.wait(0.1)
            self._published += 1

        info = self._client.publish(topic, payload, qos=QOS)
        # NO_CONN is fine: paho keeps the message and sends it after reconnecting.
        if info.rc not in (
            MQTTErrorCode.MQTT_ERR_SUCCESS,
            MQTTErrorCode.MQTT_ERR_NO_CONN,
        ):
            logger.warning(
                "paho refused a message on %s: %s", topic, mqtt.error_string(info.rc)
            )
            with self._lock:
                self._published -= 1
                self._drop_locked()
            return False
        return True

    def stats(self) -> DeliveryStats:
        with self._lock:
            return DeliveryStats(
                published=self._published,
                acknowledged=self._acknowledged,
                dropped=self._dropped,
                outstanding=self._outstanding(),
                connections=self._connections,
                connection_failures=self._connection_failures,
                disconnections=self._disconnections,
            )

    def _outstanding(self) -> int:
        return self._published - self._acknowledged

    def _drop_locked(self) -> None:
        self._dropped += 1
        if not self._warned_full:
            self._warned_full = True
            logger.warning(
                "%d messages are waiting for the broker; dropping new readings until "
                "it catches up (raise --max-buffered / SIM_MAX_BUFFERED to keep more)",
                self._outstanding(),
            )

    # -- paho callbacks (network thread) -----------------------------------------

    def _next_delay(self) -> float:
        # Mirrors paho's own backoff so the log says when the next attempt comes.
        with self._lock:
            if self._delay is None:
                self._delay = self._reconnect_min
            else:
                self._delay = min(self._delay * 2, self._reconnect_max)
            return self._delay

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            logger.error(
                "broker %s refused the connection: %s; check MQTT_USERNAME and "
                "MQTT_PASSWORD (or --username/--password-file)",
                self.settings.address,
                reason_code,
            )
            return
        with self._lock:
            self._connections += 1
            self._delay = None
            reconnect = self._connections > 1
            self._warned_full = False
        self._connected.set()
        logger.info(
            "%s to %s",
            "reconnected" if reconnect else "connected",
            self.settings.address,
        )

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        with self._lock:
            self._connection_failures += 1
            attempt = self._connection_failures
        logger.warning(
            "connection attempt %d to %s failed; next attempt in %.1f s",
            attempt,
            self.settings.address,
            self._next_delay(),
        )

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        if self._closing:
            logger.info("disconnected from %s", self.settings.address)
            return
        with self._lock:
            self._disconnections += 1
        logger.warning(
            "lost the connection to %s (%s); reconnecting in %.1f s",
            self.settings.address,
            reason_code,
            self._next_delay(),
        )

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            self._acknowledged += 1
            self._lock.notify_all()
