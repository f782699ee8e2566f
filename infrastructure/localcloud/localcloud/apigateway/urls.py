"""Where execute-api requests arrive, and the URLs the local cloud hands out.

AWS serves a REST API stage at `https://{api}.execute-api.{region}.amazonaws.com/
{stage}/{path}`. Offline that host cannot resolve, so the local cloud accepts the
forms LocalStack made familiar, plus one that browsers and curl resolve on their
own (every `*.localhost` name is the loopback address):

- `http://{api}.execute-api.localhost:{port}/{stage}/{path}`
- `http://{api}.execute-api.localhost.localstack.cloud:{port}/{stage}/{path}`
  (also with a region label before `localhost`, as LocalStack prints it)
- `http://localhost:{port}/restapis/{api}/{stage}/_user_request_/{path}`
- `http://localhost:{port}/_aws/execute-api/{api}/{stage}/{path}`

URLs reported to people (stack outputs, logs) use the first form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from localcloud.http import HttpRequest

_HOST = re.compile(
    r"^(?P<api>[a-z0-9]+)\.execute-api(?:\.[a-z0-9-]+)?"
    r"\.localhost(?:\.localstack\.cloud)?\.?(?::\d+)?$",
    re.IGNORECASE,
)
_USER_REQUEST_PATH = re.compile(
    r"^/restapis/(?P<api>[^/]+)/(?P<stage>[^/]+)/_user_request_(?P<path>/.*)?$"
)
_AWS_PATH = re.compile(
    r"^/_aws/execute-api/(?P<api>[^/]+)/(?P<stage>[^/]+)(?P<path>/.*)?$"
)


@dataclass(frozen=True, slots=True)
class ExecuteApiTarget:
    """What an execute-api request addresses: API, stage and resource path.

    `path` keeps the percent-encoding of the request, as API Gateway passes
    REST API paths and path parameters on undecoded. `stage` is None when the
    request named no stage (the bare host), which AWS answers with 403.
    """

    api_id: str
    stage: str | None
    path: str
    domain_name: str


def parse_target(request: HttpRequest) -> ExecuteApiTarget | None:
    """The execute-api target of a request, or None when it is not one."""
    host = request.host
    by_host = _HOST.match(host) if ".execute-api" in host else None
    if by_host is not None:
        return _from_host(by_host.group("api"), host, request.raw_path)

    raw_path = request.raw_path
    if raw_path.startswith("/restapis/"):
        by_path = _USER_REQUEST_PATH.match(raw_path)
    elif raw_path.startswith("/_aws/execute-api/"):
        by_path = _AWS_PATH.match(raw_path)
    else:
        return None
    if by_path is None:
        return None
    api_id = unquote(by_path.group("api"))
    return ExecuteApiTarget(
        api_id=api_id,
        stage=unquote(by_path.group("stage")),
        path=by_path.group("path") or "/",
        domain_name=_strip_port(host) or f"{api_id}.execute-api.localhost",
    )


def _from_host(api_id: str, host: str, raw_path: str) -> ExecuteApiTarget:
    stage, _, rest = raw_path.lstrip("/").partition("/")
    return ExecuteApiTarget(
        api_id=api_id.lower(),
        stage=unquote(stage) or None,
        path="/" + rest,
        domain_name=_strip_port(host),
    )


def _strip_port(host: str) -> str:
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() else host


def execute_api_url(api_id: str, stage: str, port: int, path: str = "/") -> str:
    """The URL of a stage that a browser opens without network access."""
    return f"http://{api_id}.execute-api.localhost:{port}/{stage}{path}"


_AWS_STAGE_URL = re.compile(
    r"^https://(?P<api>[a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com"
    r"(?P<rest>/.*)?$"
)


def localize_stage_url(url: str, port: int) -> str | None:
    """The local form of an AWS stage URL (as SAM templates build them with
    `!Sub https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/
    Prod/`), or None when `url` is not one."""
    found = _AWS_STAGE_URL.match(url)
    if found is None:
        return None
    return f"http://{found.group('api')}.execute-api.localhost:{port}" + (
        found.group("rest") or "/"
    )
