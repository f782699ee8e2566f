"""Whether S3 lets an anonymous caller read an object or list a bucket.

S3 grants an anonymous request when a bucket policy statement allows the action
to the principal `*` (or `{"AWS": "*"}`) on a matching resource, or, for object
reads, when the object's ACL grants READ to AllUsers; an explicit Deny wins.
Block Public Access settings of the bucket are honoured: RestrictPublicBuckets
voids public policy grants, IgnorePublicAcls voids public ACL grants.

Conditions evaluated: `Bool` on aws:SecureTransport (the edge speaks plain
HTTP), `IpAddress`/`NotIpAddress` on aws:SourceIp, and `StringEquals`,
`StringNotEquals`, `StringLike`, `StringNotLike` on aws:Referer and
aws:UserAgent. A statement with any other condition is taken as not applying,
with a warning naming the condition; account-level Block Public Access and
access points are not consulted.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

logger = logging.getLogger(__name__)

_ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@dataclass(frozen=True, slots=True)
class AnonymousRequest:
    """What a policy condition may look at."""

    source_ip: str = "127.0.0.1"
    referer: str | None = None
    user_agent: str | None = None


def anonymous_get_allowed(bucket: Any, key: Any, request: AnonymousRequest) -> bool:
    """May an anonymous caller GET `key` (a moto FakeKey) in `bucket`?"""
    resource = f"arn:aws:s3:::{bucket.name}/{key.name}"
    verdict = _policy_verdict(bucket, "s3:GetObject", resource, request)
    if verdict is not None:
        return verdict
    block = bucket.public_access_block
    if block is not None and block.ignore_public_acls:
        return False
    return _acl_public_read(key.acl)


def anonymous_list_allowed(bucket: Any, request: AnonymousRequest) -> bool:
    """May an anonymous caller list `bucket`? S3 answers a missing key with 404
    when it may, and with 403 otherwise, so as not to reveal what exists."""
    resource = f"arn:aws:s3:::{bucket.name}"
    verdict = _policy_verdict(bucket, "s3:ListBucket", resource, request)
    if verdict is not None:
        return verdict
    block = bucket.public_access_block
    if block is not None and block.ignore_public_acls:
        return False
    return _acl_public_read(bucket.acl)


def _policy_verdict(
    bucket: Any, action: str, resource: str, request: AnonymousRequest
) -> bool | None:
    """True (allowed), False (denied explicitly or public grants blocked), or
    None when the policy says nothing about this request."""
    statements = _statements(bucket.policy)
    allowed = False
    for statement in statements:
        if not _applies(statement, action, resource, request):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    if not allowed:
        return None
    block = bucket.public_access_block
    return not (block is not None and block.restrict_public_buckets)


@lru_cache(maxsize=256)
def _parsed(policy: bytes) -> tuple[dict[str, Any], ...]:
    try:
        document = json.loads(policy)
    except ValueError:
        logger.warning("bucket policy is not JSON; treating it as granting nothing")
        return ()
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    return tuple(s for s in statements if isinstance(s, dict))


def _statements(policy: bytes | str | None) -> tuple[dict[str, Any], ...]:
    if not policy:
        return ()
    return _parsed(policy.encode() if isinstance(policy, str) else policy)


def _applies(
    statement: dict[str, Any], action: str, resource: str, request: AnonymousRequest
) -> bool:
    if "NotPrincipal" in statement or not _anyone(statement.get("Principal")):
        return False
    if "Action" in statement:
        if not _any_match(statement["Action"], action, case=False):
            return False
    elif "NotAction" in statement:
        if _any_match(statement["NotAction"], action, case=False):
            return False
    else:
        return False
    if "Resource" in statement:
        if not _any_match(statement["Resource"], resource, case=True):
            return False
    elif "NotResource" in statement:
        if _any_match(statement["NotResource"], resource, case=True):
            return False
    else:
        return False
    return _conditions_hold(statement.get("Condition") or {}, request)


def _anyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        value = principal.get("AWS")
        values = value if isinstance(value, list) else [value]
        return "*" in values
    return False


def _any_match(patterns: Any, value: str, *, case: bool) -> bool:
    listed = patterns if isinstance(patterns, list) else [patterns]
    return any(
        isinstance(pattern, str) and _wildcard(pattern, case).fullmatch(value)
        for pattern in listed
    )


@lru_cache(maxsize=1024)
def _wildcard(pattern: str, case: bool) -> re.Pattern[str]:
    expression = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char)
        for char in pattern
    )
    return re.compile(expression, 0 if case else re.IGNORECASE)


def _conditions_hold(conditions: dict[str, Any], request: AnonymousRequest) -> bool:
    for operator, tests in conditions.items():
        if not isinstance(tests, dict):
            return False
        for key, expected in tests.items():
            result = _condition(operator, key.lower(), expected, request)
            if result is None:
                logger.warning(
                    "bucket policy condition %s on %s is not evaluated by the local "
                    "cloud; the statement is taken as not applying",
                    operator,
                    key,
                )
                return False
            if not result:
                return False
    return True


def _condition(
    operator: str, key: str, expected: Any, request: AnonymousRequest
) -> bool | None:
    values = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
    if operator == "Bool" and key == "aws:securetransport":
        return "false" in (v.lower() for v in values)
    if operator in ("IpAddress", "NotIpAddress") and key == "aws:sourceip":
        inside = _ip_in(request.source_ip, values)
        return inside if operator == "IpAddress" else not inside
    actual = {"aws:referer": request.referer, "aws:useragent": request.user_agent}
    if key not in actual or not operator.startswith("String"):
        return None
    text = actual[key] or ""
    if operator in ("StringEquals", "StringNotEquals"):
        hit = text in values
    elif operator in ("StringLike", "StringNotLike"):
        hit = any(_wildcard(v, True).fullmatch(text) for v in values)
    else:
        return None
    return hit if "Not" not in operator else not hit


def _ip_in(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
        return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)
    except ValueError:
        return False


def _acl_public_read(acl: Any) -> bool:
    if acl is None:
        return False
    for grant in acl.grants:
        if any(grantee.uri == _ALL_USERS for grantee in grant.grantees) and (
            {"READ", "FULL_CONTROL"} & set(grant.permissions)
        ):
            return True
    return False
