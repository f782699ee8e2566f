"""Errors of the CloudFormation extensions.

    CloudFormationError         base of this package's errors
    └── TemplateError           a template or resource the stack cannot deploy;
                                also moto's ValidationError, so CreateStack,
                                UpdateStack and CreateChangeSet answer with
                                AWS's ValidationError code and this message

Messages name the resource or value at fault and what to change.
"""

from __future__ import annotations

from moto.cloudformation.exceptions import ValidationError

from localcloud.errors import LocalCloudError


class CloudFormationError(LocalCloudError):
    """Base of the errors raised by localcloud.cloudformation."""


class TemplateError(CloudFormationError, ValidationError):
    def __init__(self, message: str) -> None:
        ValidationError.__init__(self, message=message)
