"""Shared pytest configuration: the fixtures that start real services live in
tests/fixtures/ and are loaded here as plugins."""

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.mosquitto",
    "tests.fixtures.localcloud",
    "tests.fixtures.stack",
]
