"""The deploy tooling's one base exception.

Every failure a user can act on is a `DeployError` whose message says what
happened and what to do; the command line prints it without a traceback.
"""


class DeployError(Exception):
    """A deploy step failed; the message says how to fix it."""
