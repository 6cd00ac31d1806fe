"""The MQTT client as every KinderGate part makes it: paho 2.x, MQTT v5, credentials, TLS."""

from __future__ import annotations

import logging

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import MqttConfig


class MqttSetupError(ValueError):
    """The MQTT settings cannot be used (an unreadable password file, ...)."""


def topic_base(mqtt: MqttConfig, site: str, gate: str) -> str:
    return f"{mqtt.topic_prefix}/{site}/{gate}"


def read_password(mqtt: MqttConfig) -> str | None:
    if mqtt.password_file is None:
        return None
    try:
        return mqtt.password_file.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as err:
        raise MqttSetupError(f"{mqtt.password_file}: cannot read: {err.strerror}") from None
    except UnicodeDecodeError:
        # the message names the bad byte: not even that much of a secret is shown
        raise MqttSetupError(f"{mqtt.password_file}: not UTF-8 text") from None


def make_client(mqtt: MqttConfig, client_id: str) -> paho.Client:
    """A paho 2.x MQTT v5 client with credentials and TLS as configured (not connected)."""
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5,
    )
    client.suppress_exceptions = True  # a bug in a callback must not end the network thread
    client.enable_logger(logging.getLogger("mqtt.paho"))  # ... but it is logged
    if mqtt.username is not None:
        client.username_pw_set(mqtt.username, read_password(mqtt))
    if mqtt.tls is not None:
        try:
            client.tls_set(
                ca_certs=str(mqtt.tls.ca_file),
                certfile=str(mqtt.tls.cert_file) if mqtt.tls.cert_file else None,
                keyfile=str(mqtt.tls.key_file) if mqtt.tls.key_file else None,
            )
        except (OSError, ValueError) as err:  # ssl.SSLError is an OSError
            raise MqttSetupError(f"mqtt.tls: cannot use the certificates: {err}") from None
    return client
