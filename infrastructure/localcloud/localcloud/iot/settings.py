"""Settings of the IoT rules engine.

The broker's address and credentials are the cloud's own settings
(`LOCALCLOUD_MQTT_HOST`, `_MQTT_PORT`, `_MQTT_USERNAME`, `_MQTT_PASSWORD`);
the engine's own knobs are environment variables read here:

* `LOCALCLOUD_IOT_SHARED_GROUP`: subscribe as `$share/<group>/<filter>`, so
  several local clouds running the same rules split the messages between them.
* `LOCALCLOUD_IOT_CLIENT_ID`: the MQTT client id. By default it is derived from
  the state folder, so a restarted cloud resumes its persistent session and
  receives what was published while it was down.
* `LOCALCLOUD_IOT_SESSION_EXPIRY`: seconds the broker keeps that session while
  the engine is away (default one week).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localcloud.iot.errors import IotError

DEFAULT_SESSION_EXPIRY = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class IotSettings:
    client_id: str
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    shared_group: str | None = None
    session_expiry: int = DEFAULT_SESSION_EXPIRY
    # MQTT 5 Receive Maximum: unacknowledged QoS 1 messages the broker may send
    # us; must exceed `max_batch`, since a batch is acknowledged at its end.
    receive_maximum: int = 2000
    max_batch: int = 500
    reconcile_interval: float = 1.0
    keepalive: int = 30
    state_dir: Path | None = None
    account_id: str = "123456789012"
    region: str = "us-east-1"

    @property
    def broker_address(self) -> str:
        return f"{self.mqtt_host}:{self.mqtt_port}"

    def subscription_topic(self, topic_filter: str) -> str:
        if self.shared_group:
            return f"$share/{self.shared_group}/{topic_filter}"
        return topic_filter

    @classmethod
    def from_cloud_config(
        cls, config: Any, environ: Mapping[str, str] | None = None
    ) -> IotSettings:
        environ = os.environ if environ is None else environ
        state_dir = Path(config.state_dir).resolve()
        digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
        group = environ.get("LOCALCLOUD_IOT_SHARED_GROUP", "").strip() or None
        if group is not None and any(char in group for char in "/+#"):
            raise IotError(
                f"LOCALCLOUD_IOT_SHARED_GROUP={group!r} may not contain '/', '+' "
                f"or '#'; choose a plain name such as 'rules'"
            )
        expiry_text = environ.get("LOCALCLOUD_IOT_SESSION_EXPIRY", "").strip()
        try:
            expiry = int(expiry_text) if expiry_text else DEFAULT_SESSION_EXPIRY
        except ValueError as error:
            raise IotError(
                f"LOCALCLOUD_IOT_SESSION_EXPIRY={expiry_text!r} is not a whole "
                f"number of seconds"
            ) from error
        return cls(
            client_id=environ.get("LOCALCLOUD_IOT_CLIENT_ID", "").strip()
            or f"localcloud-iot-{digest}",
            mqtt_host=config.mqtt_host,
            mqtt_port=int(config.mqtt_port),
            mqtt_username=config.mqtt_username or None,
            mqtt_password=config.mqtt_password or None,
            shared_group=group,
            session_expiry=expiry,
            state_dir=state_dir,
            account_id=config.account_id,
            region=config.region,
        )
