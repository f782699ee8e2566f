"""The rules engine: Mosquitto's messages through the enabled topic rules.

How it reproduces AWS IoT Core's rules engine, and where it stops:

* One MQTT 5 connection with a persistent session (fixed client id, session
  expiry, `clean_start=False`): messages published while the engine is down
  wait in the broker and arrive when it returns.
* One QoS 1 subscription per distinct topic filter of the enabled rules,
  optionally shared (`$share/<group>/...`) so several engines split the load.
  Each subscription carries an identifier derived from its filter, so the
  engine knows which subscription a message came through without matching
  topics, even for the copies Mosquitto sends for overlapping filters.
* paho's network thread only queues what arrives; a worker thread evaluates
  rules, runs actions (SQS sends flushed in batches) and only then
  acknowledges the batch (manual acks): a message is acknowledged once its
  actions were done, so stopping or crashing loses nothing; it may repeat.
* Rules are read from moto on every change the edge reports and once per
  second besides; nothing is restarted to apply them.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import zlib
from collections import defaultdict
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from localcloud.invoker import LambdaInvoker
from localcloud.iot.actions import ActionFactory, ActionRun
from localcloud.iot.errors import IotError, RuleEvaluationError
from localcloud.iot.message import Message
from localcloud.iot.rules import RuleCatalog, StoredRule, TopicRule, moto_rules
from localcloud.iot.settings import IotSettings
from localcloud.iot.sqs_action import SqsSender, moto_sqs_backend
from localcloud.iot.topics import topic_matches

logger = logging.getLogger(__name__)

CLIENT_ID_PROPERTY = "clientid"  # MQTT 5 user property read by clientid()
_MAX_SUBSCRIPTION_ID = 268_435_455


def subscription_id(topic_filter: str) -> int:
    """Stable across restarts, so messages queued for an earlier run still map."""
    return zlib.crc32(topic_filter.encode()) % _MAX_SUBSCRIPTION_ID + 1


class RulesEngine:
    """The `iot` background service of the local cloud."""

    name = "iot"

    def __init__(
        self,
        settings: IotSettings,
        *,
        invoker: LambdaInvoker | None = None,
        rule_source: Any = moto_rules,
        sqs_backend_for: Any = moto_sqs_backend,
    ) -> None:
        self.settings = settings
        self._sender = SqsSender(sqs_backend_for)
        self._actions = ActionFactory(sqs=self._sender, publisher=self, invoker=invoker)
        self._catalog = RuleCatalog(self._actions, rule_source)
        self._rules: dict[str, tuple[TopicRule, ...]] = {}
        self._filters_by_id: dict[int, str] = {}
        self._desired: set[str] = set()
        self._subscribed: set[str] = set()
        self._lock = threading.RLock()
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._inbox: queue.SimpleQueue[mqtt.MQTTMessage | None] = queue.SimpleQueue()
        self._client: mqtt.Client | None = None
        self._threads: list[threading.Thread] = []
        self._warned: set[tuple[str, str]] = set()
        self.processed = 0  # MQTT messages taken through the rules
        self.failures = 0  # action failures

    # --- BackgroundService ------------------------------------------------------

    def start(self) -> None:
        if self._client is not None:
            return
        self._stopping.clear()
        self.refresh()
        self._client = self._new_client()
        self._client.connect_async(
            self.settings.mqtt_host,
            self.settings.mqtt_port,
            keepalive=self.settings.keepalive,
            clean_start=False,
            properties=self._connect_properties(),
        )
        self._client.loop_start()
        self._threads = [
            threading.Thread(target=self._work, name="iot-rules", daemon=True),
            threading.Thread(target=self._reconcile, name="iot-reconcile", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        logger.info(
            "IoT rules engine connecting to mqtt://%s as %s",
            self.settings.broker_address,
            self.settings.client_id,
        )

    def stop(self) -> None:
        """Finishes and acknowledges what was taken; the rest waits in the broker."""
        client = self._client
        if client is None:
            return
        self._stopping.set()
        self._inbox.put(None)
        for thread in self._threads:
            thread.join(timeout=30)
        client.disconnect()
        client.loop_stop()
        self._client = None
        self._connected.clear()
        with self._lock:
            self._subscribed.clear()
        while not self._inbox.empty():
            self._inbox.get_nowait()  # unacknowledged: the broker sends them again

    def health(self) -> str:
        if self._client is None:
            return "available"
        return "running" if self._connected.is_set() else "error"

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # --- rules ------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-reads the rules from moto and (un)subscribes to match them."""
        rules = self._catalog.load()
        by_filter: dict[str, list[TopicRule]] = defaultdict(list)
        for rule in rules:
            if rule.enabled:
                by_filter[rule.topic_filter].append(rule)
        with self._lock:
            for topic_filter in by_filter:
                self._filters_by_id.setdefault(
                    subscription_id(topic_filter), topic_filter
                )
            self._rules = {key: tuple(value) for key, value in by_filter.items()}
            self._desired = set(by_filter)
            if self._connected.is_set():
                self._sync_subscriptions()

    def validate(self, stored: StoredRule) -> None:
        """Raises `SqlParseError` if the rule's SQL or templates cannot run."""
        self._catalog.compile(stored)

    def _sync_subscriptions(self) -> None:
        client = self._client
        if client is None:
            return
        for topic_filter in sorted(self._desired - self._subscribed):
            self._subscribe(client, topic_filter)
        for topic_filter in sorted(self._subscribed - self._desired):
            client.unsubscribe(self.settings.subscription_topic(topic_filter))
            self._subscribed.discard(topic_filter)
            logger.info("IoT rules engine unsubscribed from %s", topic_filter)
        self._remember_subscriptions()

    def _subscribe(self, client: mqtt.Client, topic_filter: str) -> None:
        properties = _properties(PacketTypes.SUBSCRIBE)
        properties.SubscriptionIdentifier = subscription_id(topic_filter)
        options = SubscribeOptions(
            qos=1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND
        )
        topic = self.settings.subscription_topic(topic_filter)
        result, _ = client.subscribe(topic, options=options, properties=properties)
        if result == MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._subscribed.add(topic_filter)
            logger.info("IoT rules engine subscribed to %s (QoS 1)", topic)

    def _remember_subscriptions(self) -> None:
        """Kept in the state folder, to drop stale ones after a restart."""
        path = self._subscriptions_file()
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(sorted(self._subscribed)))
        except OSError as error:
            logger.debug("cannot record subscriptions in %s: %s", path, error)

    def _remembered_subscriptions(self) -> set[str]:
        path = self._subscriptions_file()
        if path is None or not path.exists():
            return set()
        try:
            return set(json.loads(path.read_text()))
        except (OSError, ValueError):
            return set()

    def _subscriptions_file(self) -> Any:
        state_dir = self.settings.state_dir
        return None if state_dir is None else state_dir / "iot" / "subscriptions.json"

    def _reconcile(self) -> None:
        while not self._stopping.wait(self.settings.reconcile_interval):
            try:
                self.refresh()
            except Exception:
                logger.exception("IoT rules engine could not re-read the rules")

    # --- MQTT ---------------------------------------------------------------------

    def _new_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.settings.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if self.settings.mqtt_username:
            client.username_pw_set(
                self.settings.mqtt_username, self.settings.mqtt_password
            )
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        client.max_inflight_messages_set(100)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _connect_properties(self) -> Properties:
        properties = _properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.settings.session_expiry
        properties.ReceiveMaximum = self.settings.receive_maximum
        return properties

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
                "IoT rules engine: the broker at %s refused the connection: %s; "
                "check LOCALCLOUD_MQTT_USERNAME and LOCALCLOUD_MQTT_PASSWORD",
                self.settings.broker_address,
                reason,
            )
            return
        logger.info(
            "IoT rules engine connected to %s (session %s)",
            self.settings.broker_address,
            "resumed" if flags.session_present else "new",
        )
        with self._lock:
            self._subscribed = (
                self._remembered_subscriptions() if flags.session_present else set()
            )
            # Re-subscribing keeps a resumed session's queued messages.
            self._subscribed -= self._desired
            self._connected.set()
            self._sync_subscriptions()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            logger.warning(
                "IoT rules engine lost the broker at %s (%s); reconnecting",
                self.settings.broker_address,
                reason,
            )

    def _on_message(
        self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        # paho's network thread: hand over, nothing else (see module docstring).
        self._inbox.put(message)

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
        """Publishes through the engine's connection (republish, iot-data)."""
        client = self._client
        if client is None or not self._connected.is_set():
            raise IotError(
                f"not connected to the MQTT broker at {self.settings.broker_address}; "
                f"is it running (LOCALCLOUD_MQTT_HOST, LOCALCLOUD_MQTT_PORT)?"
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
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS,):
            raise IotError(
                f"cannot publish to topic {topic!r}: {mqtt.error_string(info.rc)}"
            )
        if wait and qos > 0 and not info.is_published():
            info.wait_for_publish(wait)
            if not info.is_published():
                raise IotError(
                    f"the broker at {self.settings.broker_address} did not acknowledge "
                    f"the message on {topic!r} within {wait:.0f} s"
                )

    # --- the worker -----------------------------------------------------------------

    def _work(self) -> None:
        inbox, limit = self._inbox, self.settings.max_batch
        while True:
            first = inbox.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < limit:
                try:
                    item = inbox.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    inbox.put(None)  # stop after this batch
                    break
                batch.append(item)
            try:
                self._process(batch)
            except Exception:
                logger.exception("IoT rules engine failed on a batch of messages")
            self._acknowledge(batch)

    def _process(self, batch: list[mqtt.MQTTMessage]) -> None:
        runs: list[ActionRun] = []
        rules_by_filter = self._rules
        for received in batch:
            message = Message(
                received.topic,
                bytes(received.payload),
                client_id=_client_id(received),
                qos=received.qos,
            )
            for rule in self._rules_for(received, rules_by_filter):
                message.account_id = rule.account_id
                try:
                    payload = rule.statement.evaluate(message)
                except RuleEvaluationError as error:
                    self._warn_once(rule.name, "evaluation", str(error))
                    continue
                if payload is None:
                    continue
                run = ActionRun(rule.name, message, rule.error_action)
                for action in rule.actions:
                    action.submit(message, payload, run)
                runs.append(run)
        self.processed += len(batch)
        self._sender.flush()
        self._handle_failures(runs)

    def _rules_for(
        self,
        received: mqtt.MQTTMessage,
        rules_by_filter: dict[str, tuple[TopicRule, ...]],
    ) -> list[TopicRule]:
        identifiers = getattr(received.properties, "SubscriptionIdentifier", None)
        if identifiers:
            matched: list[TopicRule] = []
            for identifier in identifiers:
                topic_filter = self._filters_by_id.get(identifier)
                if topic_filter is not None:
                    matched.extend(rules_by_filter.get(topic_filter, ()))
            return matched
        return [
            rule
            for topic_filter, rules in rules_by_filter.items()
            if topic_matches(topic_filter, received.topic)
            for rule in rules
        ]

    def _handle_failures(self, runs: list[ActionRun]) -> None:
        error_runs: list[ActionRun] = []
        for run in runs:
            if not run.failures:
                continue
            self.failures += len(run.failures)
            first = run.failures[0]
            self._warn_once(
                run.rule_name,
                first.failed_action,
                f"{first.failed_action} failed: {first.error_message}"
                + ("" if run.error_action else " (the rule has no errorAction)"),
            )
            if run.error_action is not None:
                error_run = ActionRun(run.rule_name, run.message, None)
                run.error_action.submit(run.message, run.error_document(), error_run)
                error_runs.append(error_run)
        if not error_runs:
            return
        self._sender.flush()
        for error_run in error_runs:
            for failure in error_run.failures:
                self._warn_once(
                    error_run.rule_name,
                    "errorAction",
                    f"its errorAction failed too: {failure.error_message}",
                )

    def _acknowledge(self, batch: list[mqtt.MQTTMessage]) -> None:
        client = self._client
        if client is None:
            return
        for received in batch:
            if received.qos:
                client.ack(received.mid, received.qos)

    def _warn_once(self, rule_name: str, kind: str, detail: str) -> None:
        """AWS logs these to CloudWatch per message; here once per rule and kind."""
        key = (rule_name, kind)
        if key in self._warned:
            logger.debug("IoT rule %s: %s", rule_name, detail)
            return
        self._warned.add(key)
        logger.warning(
            "IoT rule %s: %s (further ones are logged at DEBUG)", rule_name, detail
        )


def _properties(packet_type: int) -> Properties:
    return Properties(packet_type)  # type: ignore[no-untyped-call]


def _client_id(received: mqtt.MQTTMessage) -> str:
    """MQTT does not tell subscribers who published; a user property may."""
    pairs = getattr(received.properties, "UserProperty", None)
    if pairs:
        for key, value in pairs:
            if key == CLIENT_ID_PROPERTY:
                return str(value)
    return ""


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
    properties = _properties(PacketTypes.PUBLISH)
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
