"""The engine's MQTT 5 connection for publishing (republish, iot-data Publish).

Publishing goes through a connection of its own, in MQTT 5, so that messages
can carry what AWS lets a publisher set (user properties, content type,
response topic, correlation data, message expiry). Receiving uses MQTT 3.1.1
(see `engine.py`), which paho decodes about twice as fast.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from localcloud.iot.errors import IotError
from localcloud.iot.settings import IotSettings

logger = logging.getLogger(__name__)


def mqtt_properties(packet_type: int) -> Properties:
    return Properties(packet_type)  # type: ignore[no-untyped-call]


class MqttPublisher:
    def __init__(self, settings: IotSettings) -> None:
        self._settings = settings
        self._connected = threading.Event()
        self._client: mqtt.Client | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{self._settings.client_id}-publisher",
            protocol=mqtt.MQTTv5,
        )
        if self._settings.mqtt_username:
            client.username_pw_set(
                self._settings.mqtt_username, self._settings.mqtt_password
            )
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        client.max_inflight_messages_set(100)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.connect_async(
            self._settings.mqtt_host,
            self._settings.mqtt_port,
            keepalive=self._settings.keepalive,
        )
        client.loop_start()
        self._client = client

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()
        self._connected.clear()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            logger.warning(
                "IoT publisher: the broker at %s refused the connection: %s",
                self._settings.broker_address,
                reason,
            )
            return
        self._connected.set()

    def _on_disconnect(self, *arguments: Any) -> None:
        self._connected.clear()

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        retain: bool = False,
        user_properties: list[tuple[str, str]] | None = None,
        content_type: str | None = None,
        response_topic: str | None = None,
        message_expiry: int | None = None,
        correlation_data: bytes | None = None,
        wait: float | None = None,
    ) -> None:
        """Publishes; with `wait`, until the broker acknowledged a QoS 1 message."""
        client = self._client
        if client is None or not self._connected.is_set():
            raise IotError(
                f"not connected to the MQTT broker at {self._settings.broker_address};"
                f" is it running (LOCALCLOUD_MQTT_HOST, LOCALCLOUD_MQTT_PORT)?"
            )
        properties = _publish_properties(
            user_properties,
            content_type,
            response_topic,
            message_expiry,
            correlation_data,
        )
        try:
            info = client.publish(topic, payload, qos, retain, properties)
        except ValueError as error:
            raise IotError(f"cannot publish to topic {topic!r}: {error}") from error
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise IotError(
                f"cannot publish to topic {topic!r}: {mqtt.error_string(info.rc)}"
            )
        if wait and qos > 0:
            info.wait_for_publish(wait)
            if not info.is_published():
                raise IotError(
                    f"the broker at {self._settings.broker_address} did not "
                    f"acknowledge the message on {topic!r} within {wait:.0f} s"
                )


def _publish_properties(
    user_properties: list[tuple[str, str]] | None,
    content_type: str | None,
    response_topic: str | None,
    message_expiry: int | None,
    correlation_data: bytes | None,
) -> Properties | None:
    if not (
        user_properties
        or content_type
        or response_topic
        or message_expiry is not None
        or correlation_data
    ):
        return None
    properties = mqtt_properties(PacketTypes.PUBLISH)
    if user_properties:
        properties.UserProperty = list(user_properties)
    if content_type:
        properties.ContentType = content_type
    if response_topic:
        properties.ResponseTopic = response_topic
    if message_expiry is not None:
        properties.MessageExpiryInterval = message_expiry
    if correlation_data:
        properties.CorrelationData = correlation_data
    return properties
