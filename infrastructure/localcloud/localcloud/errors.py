"""The local cloud's one base exception.

Every failure the package raises to Python callers (bad configuration, a state
folder it cannot use, a worker that cannot start) is a `LocalCloudError` or a
subclass, with a message naming the bad value and the setting to change, and
the low-level cause chained with `from`. Errors returned to AWS clients are
not exceptions: they are AWS-shaped HTTP responses (see `localcloud.edge.awserrors`).
"""


class LocalCloudError(Exception):
    """Base of every exception the local cloud raises."""
