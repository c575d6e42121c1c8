"""Trusted checks for the ALB -> Lambda exercise. Runs in the worker, never in the jail.

They look at `ctx.http`, the HTTP response the client gets from the load balancer: a malformed
return value is ALB's 502, and its `reason` says what to change.
"""

import json
import urllib.parse

from sandbox.checks import CheckContext, CheckFailed, show

CONTRACT = (
    '{"statusCode": 200, "statusDescription": "200 OK", "headers": {"Content-Type": "application/json"}, '
    '"body": json.dumps({...}), "isBase64Encoded": False}'
)


def _contract_hint(result: object) -> str:
    """Where to look, for the classic ways of breaking ALB's response contract."""
    if result is None:
        return f"Your handler returned None. Return the response as a dict: {CONTRACT}."
    if isinstance(result, str):
        return "Return the dict itself, not json.dumps(...) of it; only 'body' is a JSON string."
    if not isinstance(result, dict):
        return f"Return a dict such as {CONTRACT}."
    status = result.get("statusCode")
    if isinstance(status, str):
        return f"statusCode must be the number {status.strip()}, not the string {status!r}."
    if isinstance(result.get("body"), dict | list):
        return "body must be a string: serialize it with json.dumps(...)."
    if "isBase64Encoded" not in result:
        return 'Add "isBase64Encoded": False to the response; ALB requires it.'
    headers = result.get("headers")
    if isinstance(headers, dict) and any(not isinstance(v, str) for v in headers.values()):
        return "Every header value must be a string."
    return f"Compare your return value with the contract in the lesson: {CONTRACT}."


def _header(ctx: CheckContext, name: str) -> list[str]:
    """The values of a response header; names compare case-insensitively, as in HTTP."""
    assert ctx.http is not None
    return [value for key, value in ctx.http.headers if key.lower() == name.lower()]


def responds_over_http(ctx: CheckContext) -> None:
    """The load balancer relays the response (no 502), and it follows the exercise's contract."""
    http = ctx.http
    assert http is not None
    if not http.ok:
        raise CheckFailed(
            f"The client got {http.status} from the load balancer instead of your response. {http.reason}",
            got=ctx.result,
            hint=_contract_hint(ctx.result),
        )
    result = ctx.result
    assert isinstance(result, dict)  # ALB relays only a dict
    if "statusDescription" not in result:
        code = result["statusCode"]
        example = {200: "200 OK", 405: "405 Method Not Allowed"}.get(code, f"{code} ...")
        raise CheckFailed(
            f"The response has no statusDescription; the exercise asks for one, such as {example!r}.",
            got=result,
            hint=f'Add "statusDescription": "{example}": the status code, one space, the reason phrase.',
        )
    if result.get("isBase64Encoded") is not False:
        raise CheckFailed(
            f"isBase64Encoded is {show(result.get('isBase64Encoded'))}; expected false for this text "
            "response.",
            got=result,
            hint='Set "isBase64Encoded": False; true tells ALB that body is base64 to decode.',
        )


def greets(ctx: CheckContext) -> None:
    """GET: 200, Content-Type application/json, {"message": "Hello, <decoded name or world>!"}."""
    http = ctx.http
    assert http is not None
    raw = (ctx.event.get("queryStringParameters") or {}).get("name")
    name = urllib.parse.unquote_plus(raw) if raw else "world"
    expected = {"message": f"Hello, {name}!"}

    if http.status != 200:
        hint = "A GET to /hello is answered with 200 OK."
        if http.status == 405:
            hint = "Only methods other than GET get 405: compare event['httpMethod'] with 'GET'."
        elif not raw:
            hint = (
                "With no name (or an empty one) greet 'world': queryStringParameters is {} when there "
                "is no query string, so use .get('name') and fall back to 'world'."
            )
        raise CheckFailed(
            f"The status is {http.status}; expected 200 for GET /hello.",
            expected=200,
            got=http.status,
            hint=hint,
        )

    content_types = _header(ctx, "content-type")
    if not content_types:
        raise CheckFailed(
            "The response has no Content-Type header, so the client cannot tell that the body is JSON.",
            expected={"Content-Type": "application/json"},
            got=ctx.result.get("headers") if isinstance(ctx.result, dict) else None,
            hint='Add "headers": {"Content-Type": "application/json"} to the response.',
        )
    media_type = content_types[-1].split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise CheckFailed(
            f"Content-Type is {content_types[-1]!r}; expected 'application/json'.",
            expected="application/json",
            got=content_types[-1],
            hint="The body is JSON, so the header says application/json.",
        )

    text = http.body.decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        raise CheckFailed(
            f"The body is {show(text)}, which is not JSON; expected {show(expected)}.",
            expected=expected,
            got=text,
            hint='Build the body with json.dumps({"message": ...}).',
        ) from None
    if body == expected:
        return
    hint = 'The body is the JSON object {"message": "Hello, <name>!"}, with no other keys.'
    message = body.get("message") if isinstance(body, dict) else None
    if raw and message == f"Hello, {raw}!":
        hint = (
            "You greeted the name exactly as it arrives. ALB passes query parameters still URL-encoded: "
            "decode it with urllib.parse.unquote_plus."
        )
    elif raw and message == f"Hello, {urllib.parse.unquote(raw)}!":
        hint = "urllib.parse.unquote leaves '+' as it is, but browsers send spaces as '+'. Use unquote_plus."
    elif raw and message == "Hello, world!":
        hint = f"The request has name={raw}: read it with event['queryStringParameters'].get('name')."
    elif message in ("Hello, None!", "Hello, !"):
        hint = "When name is missing or empty, greet 'world': `name = params.get('name') or 'world'`."
    elif isinstance(message, str) and message.lower() == expected["message"].lower():
        hint = "Mind the exact text: 'Hello, ' + name + '!'."
    raise CheckFailed(
        f"The body is {show(body)}; expected {show(expected)}.", expected=expected, got=body, hint=hint
    )


def rejects_method(ctx: CheckContext) -> None:
    """Any method but GET: 405 with the header Allow: GET."""
    http = ctx.http
    assert http is not None
    method = ctx.event["httpMethod"]
    if http.status != 405:
        raise CheckFailed(
            f"{method} /hello got status {http.status}; expected 405 Method Not Allowed.",
            expected=405,
            got=http.status,
            hint="Check event['httpMethod'] first: anything other than GET gets statusCode 405 "
            "and statusDescription '405 Method Not Allowed'.",
        )
    allow = _header(ctx, "allow")
    if not allow:
        raise CheckFailed(
            "The 405 response has no Allow header. HTTP requires a 405 to say which methods the resource "
            "supports, so the client knows what to do instead.",
            expected={"Allow": "GET"},
            got=ctx.result.get("headers") if isinstance(ctx.result, dict) else None,
            hint='Add "headers": {"Allow": "GET"} to the 405 response.',
        )
    methods = [m.strip() for value in allow for m in value.split(",") if m.strip()]
    if methods != ["GET"]:
        raise CheckFailed(
            f"Allow is {', '.join(allow)!r}; expected 'GET', the only method /hello supports.",
            expected="GET",
            got=allow,
            hint='Send exactly "Allow": "GET".',
        )
