"""A bucket's website configuration, read from the XML moto stores.

moto keeps PutBucketWebsite's request body as is; this module parses it into
the parts the website endpoint acts on, and writes it back for callers that
build a configuration (CloudFormation's `WebsiteConfiguration` property).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from .exceptions import S3WebsiteError


@dataclass(frozen=True, slots=True)
class Redirect:
    host_name: str | None = None
    protocol: str | None = None
    http_redirect_code: str | None = None
    replace_key_prefix_with: str | None = None
    replace_key_with: str | None = None


@dataclass(frozen=True, slots=True)
class RoutingRule:
    redirect: Redirect
    key_prefix_equals: str | None = None
    http_error_code_returned_equals: str | None = None


@dataclass(frozen=True, slots=True)
class WebsiteConfiguration:
    index_suffix: str | None = None
    error_key: str | None = None
    redirect_all_to: Redirect | None = None
    routing_rules: tuple[RoutingRule, ...] = field(default_factory=tuple)

    def to_xml(self) -> bytes:
        parts = [
            '<WebsiteConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        ]
        if self.redirect_all_to is not None:
            parts.append(
                "<RedirectAllRequestsTo>"
                + _element("HostName", self.redirect_all_to.host_name)
                + _element("Protocol", self.redirect_all_to.protocol)
                + "</RedirectAllRequestsTo>"
            )
        if self.index_suffix:
            suffix = _element("Suffix", self.index_suffix)
            parts.append(f"<IndexDocument>{suffix}</IndexDocument>")
        if self.error_key:
            parts.append(
                f"<ErrorDocument>{_element('Key', self.error_key)}</ErrorDocument>"
            )
        if self.routing_rules:
            parts.append("<RoutingRules>")
            parts.extend(_rule_xml(rule) for rule in self.routing_rules)
            parts.append("</RoutingRules>")
        parts.append("</WebsiteConfiguration>")
        return "".join(parts).encode()


def parse_website_configuration(document: bytes | str) -> WebsiteConfiguration:
    """The configuration in PutBucketWebsite's XML body."""
    raw = document.encode() if isinstance(document, str) else document
    return _parse(raw)


@lru_cache(maxsize=128)
def _parse(raw: bytes) -> WebsiteConfiguration:
    try:
        # The XML is what a client of this local cloud stored through
        # PutBucketWebsite; expat does not fetch external entities.
        root = ElementTree.fromstring(raw)  # noqa: S314
    except ElementTree.ParseError as error:
        raise S3WebsiteError(
            f"the bucket's website configuration is not valid XML ({error}); "
            "put it again with PutBucketWebsite"
        ) from error
    _strip_namespaces(root)
    redirect_all = root.find("RedirectAllRequestsTo")
    return WebsiteConfiguration(
        index_suffix=root.findtext("IndexDocument/Suffix"),
        error_key=root.findtext("ErrorDocument/Key"),
        redirect_all_to=_redirect(redirect_all) if redirect_all is not None else None,
        routing_rules=tuple(
            _rule(rule) for rule in root.findall("RoutingRules/RoutingRule")
        ),
    )


def _strip_namespaces(root: ElementTree.Element) -> None:
    for element in root.iter():
        element.tag = element.tag.rsplit("}", 1)[-1]


def _redirect(element: ElementTree.Element | None) -> Redirect:
    if element is None:
        return Redirect()
    return Redirect(
        host_name=element.findtext("HostName"),
        protocol=element.findtext("Protocol"),
        http_redirect_code=element.findtext("HttpRedirectCode"),
        replace_key_prefix_with=element.findtext("ReplaceKeyPrefixWith"),
        replace_key_with=element.findtext("ReplaceKeyWith"),
    )


def _rule(element: ElementTree.Element) -> RoutingRule:
    return RoutingRule(
        redirect=_redirect(element.find("Redirect")),
        key_prefix_equals=element.findtext("Condition/KeyPrefixEquals"),
        http_error_code_returned_equals=element.findtext(
            "Condition/HttpErrorCodeReturnedEquals"
        ),
    )


def _element(name: str, value: str | None) -> str:
    return f"<{name}>{escape(value)}</{name}>" if value is not None else ""


def _rule_xml(rule: RoutingRule) -> str:
    condition = _element("KeyPrefixEquals", rule.key_prefix_equals) + _element(
        "HttpErrorCodeReturnedEquals", rule.http_error_code_returned_equals
    )
    redirect = rule.redirect
    return (
        "<RoutingRule>"
        + (f"<Condition>{condition}</Condition>" if condition else "")
        + "<Redirect>"
        + _element("HostName", redirect.host_name)
        + _element("Protocol", redirect.protocol)
        + _element("HttpRedirectCode", redirect.http_redirect_code)
        + _element("ReplaceKeyPrefixWith", redirect.replace_key_prefix_with)
        + _element("ReplaceKeyWith", redirect.replace_key_with)
        + "</Redirect></RoutingRule>"
    )
