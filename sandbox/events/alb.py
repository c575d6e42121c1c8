"""Seeded Application Load Balancer request events, shaped as ALB sends them to Lambda.

Shapes follow the ELB User Guide ("Lambda functions as targets") as summarised in
aws-lambda-facts.md §1c: lowercase header names; the x-amzn-trace-id / x-forwarded-* headers ALB
adds; query values passed on still URL-encoded; and, when the target group has
`lambda.multi_value_headers.enabled`, `multiValueHeaders` and `multiValueQueryStringParameters`
*instead of* `headers` and `queryStringParameters`.
"""

import base64
import random
import urllib.parse
from collections.abc import Mapping
from typing import Any

from sandbox.events import _common as c

HeaderValue = str | list[str]

# aws-lambda-facts.md §1c, "Base64 rule [doc, current]": with a content-encoding header the body is
# always base64; otherwise only these media types travel as-is and every other type is base64 —
# including application/x-www-form-urlencoded and vendor types such as application/vnd.api+json.
_RAW_MEDIA_TYPES = frozenset({"application/json", "application/javascript", "application/xml"})

_USER_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "curl/8.8.0",
    "python-requests/2.32.3",
)
_ACCEPTS = ("*/*", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "application/json")
_LANGUAGES = ("en-US,en;q=0.9", "fr-FR,fr;q=0.9,en;q=0.8", "de-DE,de;q=0.9")
_LB_NAMES = ("web-alb", "api-alb", "shop-lb", "internal-api", "edge-alb")
_TG_NAMES = ("lambda-web", "lambda-api", "orders-fn", "checkout-tg", "hello-lambda")


def body_is_base64(content_type: str | None, content_encoding: str | None) -> bool:
    """Whether ALB base64-encodes a request body with these headers (facts §1c)."""
    if content_encoding is not None:
        return True
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return not (media_type.startswith("text/") or media_type in _RAW_MEDIA_TYPES)


def _trace_id(rng: random.Random, epoch_s: int) -> str:
    return f"Root=1-{epoch_s:08x}-{c.hex_string(rng, 24)}"


def _random_target_group_arn(rng: random.Random, region: str) -> str:
    name = f"{rng.choice(_TG_NAMES)}-{c.hex_string(rng, 6)}"
    target_group = f"targetgroup/{name}/{c.hex_string(rng, 16)}"
    return f"arn:{c.partition(region)}:elasticloadbalancing:{region}:123456789012:{target_group}"


def _values(name: str, value: object, *, param: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    values = c.check_str_list(value, param=f"{param}[{name!r}]")
    if not values:
        raise ValueError(f"{param}[{name!r}] must not be an empty list")
    return values


def _multi(mapping: object, *, param: str) -> dict[str, list[str]]:
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{param} must be a dict of str to str or list[str], got {type(mapping).__name__}")
    result: dict[str, list[str]] = {}
    for name, value in mapping.items():
        c.check_str(name, param=f"{param} key")
        result[name] = _values(name, value, param=param)
    return result


def _shape(
    *,
    method: str,
    path: str,
    query: dict[str, list[str]],
    headers: dict[str, list[str]],
    body: str,
    is_base64: bool,
    multi_value: bool,
    target_group_arn: str,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": target_group_arn}},
        "httpMethod": method,
        "path": path,
    }
    if multi_value:
        event["multiValueQueryStringParameters"] = query
        event["multiValueHeaders"] = headers
    else:
        # Without multi-value headers a repeated header or parameter keeps the last value.
        event["queryStringParameters"] = {k: v[-1] for k, v in query.items()}
        event["headers"] = {k: v[-1] for k, v in headers.items()}
    event["body"] = body
    event["isBase64Encoded"] = is_base64
    return event


def _check_arn(target_group_arn: object) -> str:
    arn = c.check_str(target_group_arn, param="target_group_arn")
    if not arn.startswith("arn:") or ":targetgroup/" not in arn:
        raise ValueError(f"target_group_arn must be an ELB target group ARN, got {arn!r}")
    return arn


def request(
    *,
    seed: int = 0,
    method: str = "GET",
    path: str = "/",
    query: Mapping[str, HeaderValue] | None = None,
    headers: Mapping[str, HeaderValue] | None = None,
    body: str | bytes | None = None,
    content_type: str | None = None,
    multi_value: bool = False,
    target_group_arn: str | None = None,
    region: str = "us-east-1",
) -> dict[str, Any]:
    """An HTTP request as an ALB target group hands it to Lambda.

    `query` holds the decoded values; the event carries them URL-encoded the way a browser or
    `urllib.parse.urlencode` sends them ("a b" → "a+b"), because ALB does not decode them.
    `body` is the request body as the client sent it; the event carries it raw or base64 by ALB's
    rule (`body_is_base64`). `content_type` sets the content-type header. Random choices (seeded):
    the target group, the load balancer's host name, client IP, user agent, trace id.
    """
    rng = c.new_rng(seed, namespace="alb")
    region = c.check_region(region)
    random_arn = _random_target_group_arn(rng, region)
    trace = _trace_id(rng, c.epoch_millis(c.random_time(rng)) // 1000)
    host = f"{rng.choice(_LB_NAMES)}-{rng.randint(10**8, 10**10 - 1)}.{region}.elb.amazonaws.com"
    port, proto = rng.choice((("443", "https"), ("80", "http")))
    defaults = {
        "accept": rng.choice(_ACCEPTS),
        "accept-language": rng.choice(_LANGUAGES),
        "host": host,
        "user-agent": rng.choice(_USER_AGENTS),
        "x-amzn-trace-id": trace,
        "x-forwarded-for": c.random_ip(rng),
        "x-forwarded-port": port,
        "x-forwarded-proto": proto,
    }

    method = c.check_str(method, param="method")
    if not method.isalpha() or not method.isupper():
        raise ValueError(f"method must be an uppercase HTTP method such as 'GET' or 'POST', got {method!r}")
    path = c.check_str(path, param="path")
    if not path.startswith("/") or "?" in path:
        raise ValueError(f"path must start with '/' and hold no query string (use query=), got {path!r}")
    if not isinstance(multi_value, bool):
        raise ValueError(f"multi_value must be a bool, got {type(multi_value).__name__}")
    arn = random_arn if target_group_arn is None else _check_arn(target_group_arn)

    encoded_query = {
        urllib.parse.quote_plus(name): [urllib.parse.quote_plus(v) for v in values]
        for name, values in _multi(query, param="query").items()
    }
    all_headers: dict[str, list[str]] = {name: [value] for name, value in defaults.items()}
    for name, values in _multi(headers, param="headers").items():
        all_headers[name.lower()] = values  # ALB lowercases header names
    if content_type is not None:
        c.check_str(content_type, param="content_type")
        if "content-type" in {n.lower() for n in headers or {}}:
            raise ValueError("give the content type either as content_type= or in headers=, not both")
        all_headers["content-type"] = [content_type]

    raw: bytes
    if body is None:
        raw = b""
    elif isinstance(body, str):
        raw = body.encode()
    elif isinstance(body, bytes):
        raw = body
    else:
        raise ValueError(f"body must be a str, bytes or None, got {type(body).__name__}")
    if raw and "content-type" not in all_headers:
        all_headers["content-type"] = [
            "text/plain; charset=utf-8" if isinstance(body, str) else "application/octet-stream"
        ]
    if raw:
        all_headers["content-length"] = [str(len(raw))]

    is_base64 = bool(raw) and body_is_base64(
        all_headers["content-type"][-1],
        all_headers["content-encoding"][-1] if "content-encoding" in all_headers else None,
    )
    if is_base64:
        text = base64.b64encode(raw).decode()
    else:
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise ValueError(
                f"a {all_headers['content-type'][-1]!r} body travels as text, so it must be UTF-8; "
                "give a str, or a binary content type"
            ) from None
    return _shape(
        method=method,
        path=path,
        query=encoded_query,
        headers=all_headers,
        body=text,
        is_base64=is_base64,
        multi_value=multi_value,
        target_group_arn=arn,
    )


def health_check(
    *,
    seed: int = 0,
    path: str = "/",
    multi_value: bool = False,
    target_group_arn: str | None = None,
    region: str = "us-east-1",
) -> dict[str, Any]:
    """An ALB health check: GET, no query, only the ELB-HealthChecker user agent, empty body."""
    rng = c.new_rng(seed, namespace="alb")
    region = c.check_region(region)
    random_arn = _random_target_group_arn(rng, region)
    path = c.check_str(path, param="path")
    if not path.startswith("/") or "?" in path:
        raise ValueError(f"path must start with '/' and hold no query string, got {path!r}")
    if not isinstance(multi_value, bool):
        raise ValueError(f"multi_value must be a bool, got {type(multi_value).__name__}")
    return _shape(
        method="GET",
        path=path,
        query={},
        headers={"user-agent": ["ELB-HealthChecker/2.0"]},
        body="",
        is_base64=False,
        multi_value=multi_value,
        target_group_arn=random_arn if target_group_arn is None else _check_arn(target_group_arn),
    )
