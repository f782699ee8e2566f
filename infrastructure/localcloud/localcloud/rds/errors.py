"""The RDS feature's exception: a DB instance's server could not be made to
do what the control plane asked (binaries missing, initdb or start failed)."""

from localcloud.errors import LocalCloudError


class RdsError(LocalCloudError):
    """A PostgreSQL server behind a DB instance failed; the message says how."""


class PortInUseError(RdsError):
    """The port chosen for a server was taken by another process first."""
