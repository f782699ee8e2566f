"""The OrchestraLink telemetry simulator: a fleet of machines publishing over MQTT.

`machines` and `incidents` model the values (pure and seedable), `messages` turns
samples into the MQTT message contract, `publisher` talks to the broker, `runner`
paces the fleet (real time or load mode) and `cli` wires it to flags and environment.
"""
