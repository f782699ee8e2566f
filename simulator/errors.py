"""The simulator's one base exception, a kind of the shared package's own."""

from orchestralink.errors import OrchestraLinkError


class SimulatorError(OrchestraLinkError):
    """Base class of every error the simulator raises."""


class ConfigurationError(SimulatorError):
    """A flag, environment variable or schedule entry that cannot be used."""
