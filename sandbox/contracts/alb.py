"""What an Application Load Balancer makes of a Lambda target's return value.

Rules from aws-lambda-facts.md §2 (ELB User Guide "Lambda functions as targets", its
troubleshooting page and the access-log `error_reason` table). ALB's exact checks are **not
documented** (does it accept the string "200" as a statusCode? a number as a header value?), so
this grader is strict on purpose: whatever the documentation does not promise to work is a 502
here, with a reason that says what to change. A handler that passes here works on a real ALB.
"""

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal

MAX_RESPONSE_BYTES = 1_048_576  # 1 MB: larger response JSON → 502 LambdaResponseTooLarge
MAX_REQUEST_BODY_BYTES = 1_048_576  # 1 MB: larger request body → 413, the function is never invoked

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name (RFC 9110 token)
_STATUS_DESCRIPTION = re.compile(r"([0-9]{3}) (\S.*)")
# ALB drops hop-by-hop headers and computes Content-Length itself (facts §2).
_DROPPED = frozenset({"connection", "transfer-encoding", "content-length"})

ErrorKind = Literal["unhandled", "timeout", "request_too_large"]


@dataclass(frozen=True, slots=True)
class HttpResult:
    """The HTTP response the client receives from the load balancer.

    `ok` is False when ALB answers by itself (502/413) instead of relaying the function's
    response; `reason` then says why, starting with ALB's error_reason code. Headers are
    (name, value) pairs in the function's order; ALB may reorder them.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    ok: bool
    reason: str = ""


# The titles of the small HTML pages an ALB (`server: awselb/2.0`) sends for the errors it
# generates. Spelled out rather than taken from HTTPStatus: Python 3.13 renamed 413's phrase to
# RFC 9110's "Content Too Large", while the load balancer still says "Request Entity Too Large".
_PAGE_TITLES = {502: "502 Bad Gateway", 413: "413 Request Entity Too Large"}


def _alb_page(status: HTTPStatus) -> tuple[list[tuple[str, str]], bytes]:
    title = _PAGE_TITLES[status.value]
    lines = ["<html>", f"<head><title>{title}</title></head>", "<body>", f"<center><h1>{title}</h1></center>"]
    body = "\r\n".join([*lines, "</body>", "</html>", ""]).encode()
    headers = [("server", "awselb/2.0"), ("content-type", "text/html"), ("content-length", str(len(body)))]
    return headers, body


def _alb_error(status: HTTPStatus, reason: str) -> HttpResult:
    headers, body = _alb_page(status)
    return HttpResult(status=status.value, headers=headers, body=body, ok=False, reason=reason)


def alb_error_response(kind: ErrorKind, *, detail: str = "") -> HttpResult:
    """The response ALB generates itself when the function gives it nothing to relay.

    - "unhandled": the function raised → 502 (LambdaUnhandled).
    - "timeout": the function ran past its timeout → 502. Lambda reports a timeout to ALB as an
      unhandled function error, so the access log shows LambdaUnhandled too.
    - "request_too_large": the request body is over 1 MB → 413; the function never runs.

    `detail` (e.g. "KeyError: 'id'") is appended to the reason for the learner.
    """
    suffix = f" ({detail})" if detail else ""
    if kind == "unhandled":
        return _alb_error(
            HTTPStatus.BAD_GATEWAY,
            f"LambdaUnhandled: the function raised an exception{suffix}, so the load balancer answered "
            "502 Bad Gateway. The client never sees the error; catch what you can handle and return "
            "a response such as {'statusCode': 400, ...} instead.",
        )
    if kind == "timeout":
        return _alb_error(
            HTTPStatus.BAD_GATEWAY,
            f"LambdaUnhandled: the function did not return before its timeout{suffix}, so the load "
            "balancer answered 502 Bad Gateway.",
        )
    if kind == "request_too_large":
        size = detail or f"{MAX_REQUEST_BODY_BYTES:,} bytes"
        return _alb_error(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"LambdaRequestTooLarge: the request body is over 1 MB ({size}), "
            "so the load balancer answered 413 without invoking the function.",
        )
    raise ValueError(f"unknown ALB error kind {kind!r}; use 'unhandled', 'timeout' or 'request_too_large'")


def alb_request_too_large(event: Mapping[str, object]) -> HttpResult | None:
    """The 413 ALB sends instead of invoking the function, if the event's body is over 1 MB."""
    body = event.get("body") or ""
    if not isinstance(body, str):
        return None
    try:
        size = len(base64.b64decode(body)) if event.get("isBase64Encoded") is True else len(body.encode())
    except (binascii.Error, ValueError):
        size = len(body.encode())  # not valid base64: not our events; count what arrived
    if size <= MAX_REQUEST_BODY_BYTES:
        return None
    return alb_error_response("request_too_large", detail=f"{size:,} bytes")


def _describe(value: object) -> str:
    """`str '200'`, `int 200`, `null`: what the learner returned, in Python and JSON terms."""
    if value is None:
        return "None (null)"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _check_header(name: object, value: object, *, where: str, problems: list[str]) -> None:
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        problems.append(f"{where} has the invalid header name {name!r}")
    if isinstance(value, bool):
        problems.append(
            f"{where}[{name!r}] must be a string, got {_describe(value)}; write '{str(value).lower()}'"
        )
    elif isinstance(value, int | float):
        problems.append(f"{where}[{name!r}] must be a string, got {_describe(value)}; write '{value}'")
    elif not isinstance(value, str):
        problems.append(f"{where}[{name!r}] must be a string, got {_describe(value)}")
    elif any(ch in value for ch in "\r\n\x00"):
        problems.append(
            f"{where}[{name!r}] contains a line break or NUL, which HTTP does not allow in a header"
        )


def _headers(
    response: Mapping[str, object], *, multi_value: bool, problems: list[str]
) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    if multi_value:
        if "headers" in response:
            problems.append(
                "this target group has multi-value headers enabled, so the response must use "
                "'multiValueHeaders' (a dict of lists, e.g. {'content-type': ['text/html']}) "
                "instead of 'headers'"
            )
        headers = response.get("multiValueHeaders", {})
        if not isinstance(headers, dict):
            problems.append(
                "multiValueHeaders must be an object of header name to list of strings, "
                f"got {_describe(headers)}"
            )
            return pairs
        for name, values in headers.items():
            if not isinstance(values, list):
                problems.append(
                    f"multiValueHeaders[{name!r}] must be a list of strings, got {_describe(values)}; "
                    f"write [{values!r}]"
                )
                continue
            for value in values:
                _check_header(name, value, where="multiValueHeaders", problems=problems)
                pairs.append((str(name), str(value)))
    else:
        if "multiValueHeaders" in response:
            problems.append(
                "this target group does not have multi-value headers enabled, so the response must use "
                "'headers' (a dict of strings) instead of 'multiValueHeaders'"
            )
        headers = response.get("headers", {})
        if not isinstance(headers, dict):
            problems.append(f"headers must be an object of header name to string, got {_describe(headers)}")
            return pairs
        for name, value in headers.items():
            if isinstance(value, list):
                problems.append(
                    f"headers[{name!r}] is a list, but this target group does not have multi-value headers "
                    "enabled: give one string per header"
                )
                continue
            _check_header(name, value, where="headers", problems=problems)
            pairs.append((str(name), str(value)))
    return pairs


def _near_miss(response: Mapping[str, object], key: str) -> str:
    for other in response:
        if isinstance(other, str) and other != key and other.lower() == key.lower():
            return f" (you returned {other!r}; keys are case-sensitive)"
    return ""


def alb_http_response(response: object, *, multi_value: bool) -> HttpResult:
    """Validate a handler's return value as ALB does (facts §2) and give the client's response.

    Checks, strictly (ALB's own checks are undocumented; see the module docstring):
    the response JSON is at most 1 MB; it is an object; `statusCode` is an int (not a bool, not
    a string) from 100 to 599; `statusDescription`, if present, is "<statusCode> <reason>";
    `headers` (single-value target groups) is a dict of str, `multiValueHeaders` (multi-value
    target groups) a dict of lists of str, and the other one is absent; `isBase64Encoded` is
    present and a bool; `body`, if present, is a string, and valid base64 when isBase64Encoded
    is true. Any failure gives the 502 ALB would send, with every problem found in `reason`.
    """
    try:
        size = len(json.dumps(response, ensure_ascii=False).encode())
    except (TypeError, ValueError) as exc:
        return _alb_error(
            HTTPStatus.BAD_GATEWAY, f"LambdaInvalidResponse: the response is not JSON-serializable ({exc})"
        )
    if size > MAX_RESPONSE_BYTES:
        return _alb_error(
            HTTPStatus.BAD_GATEWAY,
            f"LambdaResponseTooLarge: the response JSON is {size:,} bytes; ALB accepts at most "
            f"{MAX_RESPONSE_BYTES:,} (1 MB). Return less, or store the data in S3 and redirect to it.",
        )
    if not isinstance(response, dict):
        hint = ""
        if isinstance(response, str) and response.lstrip().startswith("{"):
            hint = (
                "; it looks like json.dumps(...) output: return the dict itself, and json.dumps only the body"
            )
        return _alb_error(
            HTTPStatus.BAD_GATEWAY,
            "LambdaInvalidResponse: the function must return an object (a dict) such as "
            f"{{'statusCode': 200, 'headers': {{...}}, 'body': '...', 'isBase64Encoded': False}}, "
            f"got {_describe(response)}{hint}",
        )

    problems: list[str] = []
    status = response.get("statusCode")
    if "statusCode" not in response:
        problems.append(f"statusCode is missing{_near_miss(response, 'statusCode')}")
    elif isinstance(status, bool) or not isinstance(status, int):
        problems.append(f"statusCode must be an integer, got {_describe(status)}")
    elif not 100 <= status <= 599:
        problems.append(f"statusCode must be between 100 and 599, got {status}")
        status = None

    if "statusDescription" in response:
        description = response["statusDescription"]
        match = _STATUS_DESCRIPTION.fullmatch(description) if isinstance(description, str) else None
        example = ""
        if isinstance(status, int) and not isinstance(status, bool):
            try:
                example = f", e.g. '{status} {HTTPStatus(status).phrase}'"
            except ValueError:
                example = f", e.g. '{status} Custom Reason'"
        if match is None:
            problems.append(
                f"statusDescription must be the status code, one space and the reason phrase{example}, "
                f"got {_describe(description)}"
            )
        elif isinstance(status, int) and int(match.group(1)) != status:
            problems.append(f"statusDescription {description!r} does not match statusCode {status}{example}")

    headers = _headers(response, multi_value=multi_value, problems=problems)

    encoded = response.get("isBase64Encoded")
    if "isBase64Encoded" not in response:
        problems.append(
            f"isBase64Encoded is missing{_near_miss(response, 'isBase64Encoded')}: ALB requires it; "
            "use False for a text body"
        )
    elif not isinstance(encoded, bool):
        problems.append(f"isBase64Encoded must be a boolean (True or False), got {_describe(encoded)}")

    body = b""
    if "body" in response:
        raw = response["body"]
        if not isinstance(raw, str):
            hint = " (use json.dumps(...) for JSON)" if isinstance(raw, dict | list) else ""
            problems.append(f"body must be a string{hint}, got {_describe(raw)}")
        elif encoded is True:
            try:
                body = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                problems.append(
                    "isBase64Encoded is true but body is not valid base64; "
                    "use base64.b64encode(data).decode() for the body, "
                    "or set isBase64Encoded to False for text"
                )
        else:
            body = raw.encode()

    if problems:
        return _alb_error(HTTPStatus.BAD_GATEWAY, "LambdaInvalidResponse: " + "; ".join(problems))
    assert isinstance(status, int)
    kept = [(name, value) for name, value in headers if name.lower() not in _DROPPED]
    if status >= 200 and status not in (204, 304):
        kept.append(("content-length", str(len(body))))
    return HttpResult(status=status, headers=kept, body=body, ok=True)
