"""The one base exception of the shared `orchestralink` package.

Every error the shared layer raises derives from `OrchestraLinkError`, so a caller
(a Lambda handler, the API, the simulator's command line) can catch the package's
failures in one place while library errors stay chained underneath with `from`.
"""


class OrchestraLinkError(Exception):
    """Base class of every error raised by the `orchestralink` package."""
