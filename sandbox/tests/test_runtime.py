"""Real runtimes (sandbox/runtime) driven through RuntimeProcess + UnisolatedLauncher.

Every expectation about Lambda's behaviour comes from
/work/shared/reference/aws-lambda-facts.md (§4 context, §5 errors, log lines, limits).
"""

import base64
import hashlib
import re
import textwrap
import uuid

import pytest

from sandbox.jail.process import RuntimeProcess
from sandbox.jail.unisolated import UnisolatedLauncher
from sandbox.runtime import loglines
from sandbox.runtime.protocol import MAX_RESPONSE_BYTES

TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
NUM = r"\d+\.\d{2}"


def rid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def start_function():
    """start_function(code, **init) -> (runtime, init outcome); every runtime is killed afterwards."""
    runtimes: list[RuntimeProcess] = []

    def start(code: str, *, memory_mb: int = 128, timeout_s: float = 3.0, **init):
        runtime = RuntimeProcess.start(UnisolatedLauncher(), memory_mb=memory_mb, timeout_s=timeout_s)
        runtimes.append(runtime)
        init.setdefault("function_name", "test-fn")
        outcome = runtime.init(code=textwrap.dedent(code), **init)
        return runtime, outcome

    yield start
    for runtime in runtimes:
        runtime.kill()


TOOLBOX = """
import datetime, decimal, logging, os, sys, time

COUNT = 0

def lambda_handler(event, context):
    global COUNT
    COUNT += 1
    return globals()["do_" + event.get("action", "echo")](event, context)

def do_echo(event, context):
    return {"event": event, "count": COUNT}

def do_context(event, context):
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "memory_type": type(context.memory_limit_in_mb).__name__,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity_type": type(context.identity).__name__,
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "client_context": context.client_context,
        "tenant_id": context.tenant_id,
        "remaining": context.get_remaining_time_in_millis(),
        "remaining_type": type(context.get_remaining_time_in_millis()).__name__,
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "sys_path_0": sys.path[0],
        "stdin": sys.stdin.read(),
    }

def do_countdown(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(0.3)
    return [first, context.get_remaining_time_in_millis()]

def do_logs(event, context):
    print("plain print line")
    logging.basicConfig(level=logging.INFO)  # a no-op on Lambda: the root logger has a handler
    logging.info("info is below the default WARNING level")
    logging.warning("warned %s", "here")
    app = logging.getLogger("app")
    app.setLevel(logging.INFO)
    app.info("app info")
    logging.getLogger().error("an error record")
    context.log("via context.log\\n")
    print("to stderr", file=sys.stderr)
    return None

def do_raise(event, context):
    def inner(d):
        return d["missing"]
    return inner({})

def do_datetime(event, context):
    return {"when": datetime.datetime(2024, 1, 1)}

def do_decimal(event, context):
    return {"price": decimal.Decimal("12.50"), "qty": decimal.Decimal("3"), "text": "caf\\u00e9"}

def do_bytes(event, context):
    return b"\\x00\\x01"

def do_big(event, context):
    return "A" * event["n"]

def do_forge_low_fds(event, context):
    fake = ('{"op": "invoke", "request_id": "%s", "status": "ok", "result": "forged"}\\n'
            % context.aws_request_id).encode()
    for fd in range(256):
        try:
            os.write(fd, fake)
        except OSError:
            pass
    return {"real": True}

def do_flood(event, context):
    line = "x" * 1023 + "\\n"
    sys.stdout.write(line * event["kib"])
    return "flooded"

def do_memory_error(event, context):
    hog = bytearray(4 * 1024 ** 3)
    return len(hog)

def do_hold(event, context):
    global HELD
    HELD = bytearray(event["mib"] * 1024 * 1024)
    for i in range(0, len(HELD), 4096):
        HELD[i] = 1
    return len(HELD)
"""


@pytest.fixture(scope="module")
def toolbox():
    runtime = RuntimeProcess.start(UnisolatedLauncher(), memory_mb=256, timeout_s=3.0)
    init = runtime.init(code=TOOLBOX, function_name="toolbox", env={"TABLE_NAME": "Orders"})
    assert init.ok, init
    yield runtime
    runtime.kill()


def call(runtime: RuntimeProcess, event: dict, **kwargs):
    request_id = rid()
    outcome = runtime.invoke(request_id, event, **kwargs)
    return request_id, outcome


# -- the happy path, context and environment -------------------------------------


def test_happy_path(start_function):
    runtime, init = start_function("def lambda_handler(event, context):\n    return {'got': event}\n")
    assert init.ok and init.fault is None and init.error is None and init.init_duration_ms > 0
    request_id, outcome = call(runtime, {"a": [1, 2]})
    assert outcome.fault is None and outcome.cold
    record = outcome.record
    assert record["status"] == "ok" and record["result"] == {"got": {"a": [1, 2]}}
    assert record["request_id"] == request_id
    assert record["response_bytes"] == len('{"got": {"a": [1, 2]}}')
    assert record["aws_state"] == {"s3": {}, "dynamodb": {}, "sqs": {}}
    assert outcome.logs.startswith(f"START RequestId: {request_id} Version: $LATEST\n")
    assert runtime.alive


def test_context_attributes_and_types(toolbox):
    request_id, outcome = call(toolbox, {"action": "context"})
    ctx = outcome.record["result"]
    assert ctx["function_name"] == "toolbox"
    assert ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:toolbox"
    assert ctx["memory_limit_in_mb"] == "256" and ctx["memory_type"] == "str"
    assert ctx["aws_request_id"] == request_id
    assert ctx["log_group_name"] == "/aws/lambda/toolbox"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", ctx["log_stream_name"])
    assert ctx["identity_type"] == "CognitoIdentity" and ctx["identity"] == [None, None]
    assert ctx["client_context"] is None and ctx["tenant_id"] is None
    assert ctx["remaining_type"] == "int" and 2000 < ctx["remaining"] <= 3000
    env = ctx["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "toolbox"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/toolbox"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == ctx["log_stream_name"]
    assert env["_HANDLER"] == "lambda_function.lambda_handler"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert env["TZ"] == ":UTC"
    assert env["LAMBDA_TASK_ROOT"] == ctx["cwd"] == ctx["sys_path_0"]
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA") and env["AWS_SESSION_TOKEN"]
    assert env["TABLE_NAME"] == "Orders"
    assert ctx["stdin"] == ""  # stdin is /dev/null, as on Lambda


def test_environment_is_scrubbed(start_function, monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "worker-secret")
    monkeypatch.setenv("REDIS_URL", "redis://worker")
    monkeypatch.setenv("DATABASE_URL", "postgres://worker")
    runtime, _ = start_function(
        "import os\ndef lambda_handler(event, context):\n    return dict(os.environ)\n"
    )
    env = call(runtime, {})[1].record["result"]
    leaked = [k for k in env if k.startswith("DJANGO_") or k in ("REDIS_URL", "DATABASE_URL")]
    assert leaked == []
    assert "worker-secret" not in str(env)


def test_remaining_time_counts_down(toolbox):
    first, second = call(toolbox, {"action": "countdown"})[1].record["result"]
    assert first <= 3000
    assert 290 <= first - second <= 1500  # slept 0.3 s (generous upper bound for a loaded machine)


def test_invoke_timeout_overrides_the_context_deadline(toolbox):
    remaining = call(toolbox, {"action": "context"}, timeout_s=1.5)[1].record["result"]["remaining"]
    assert 1000 < remaining <= 1500


def test_stdin_is_dev_null(start_function):
    runtime, _ = start_function(
        """
        def lambda_handler(event, context):
            try:
                input()
            except EOFError:
                return "eof"
        """
    )
    assert call(runtime, {})[1].record["result"] == "eof"


# -- log lines ----------------------------------------------------------------------


def test_print_and_logging_lines_are_lambdas(toolbox):
    request_id, outcome = call(toolbox, {"action": "logs"})
    lines = outcome.logs.splitlines()
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert lines[1] == "plain print line"  # print: raw, no prefix
    assert re.fullmatch(rf"\[WARNING\]\t{TS}\t{request_id}\twarned here", lines[2])
    assert re.fullmatch(rf"\[INFO\]\t{TS}\t{request_id}\tapp info", lines[3])
    assert re.fullmatch(rf"\[ERROR\]\t{TS}\t{request_id}\tan error record", lines[4])
    assert lines[5] == "via context.log"
    assert lines[6] == "to stderr"
    assert lines[7] == f"END RequestId: {request_id}"
    assert lines[8].startswith(f"REPORT RequestId: {request_id}\t")
    assert len(lines) == 9  # logging.info on the root logger stays below WARNING
    assert "info is below" not in outcome.logs


def test_start_end_report_and_init_duration_only_when_cold(start_function):
    runtime, init = start_function(
        "print('init output')\ndef lambda_handler(event, context):\n    return 1\n"
    )
    assert init.logs == "init output\n"  # module-level prints come before START, in init's logs
    report = re.compile(
        rf"REPORT RequestId: (?P<id>[0-9a-f-]{{36}})\tDuration: (?P<d>{NUM}) ms\t"
        rf"Billed Duration: (?P<b>\d+) ms\tMemory Size: 128 MB\tMax Memory Used: (?P<m>\d+) MB"
        rf"(?:\tInit Duration: (?P<i>{NUM}) ms)?"
    )
    for index in range(3):
        request_id, outcome = call(runtime, {})
        assert outcome.cold == (index == 0)
        lines = outcome.logs.splitlines()
        assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
        assert lines[-2] == f"END RequestId: {request_id}"
        match = report.fullmatch(lines[-1])
        assert match and match["id"] == request_id
        record = outcome.record
        assert float(match["d"]) == record["duration_ms"]
        assert int(match["m"]) == record["max_memory_used_mb"] >= 40
        assert int(match["b"]) == record["billed_duration_ms"]
        if index == 0:  # cold: Init Duration shown and billed (since Aug 2025)
            assert float(match["i"]) == record["init_duration_ms"] == init.init_duration_ms
            assert record["billed_duration_ms"] == loglines.billed_duration_ms(
                record["duration_ms"], init.init_duration_ms
            )
        else:
            assert match["i"] is None and record["init_duration_ms"] is None
            assert record["billed_duration_ms"] == loglines.billed_duration_ms(record["duration_ms"])


@pytest.mark.parametrize(
    ("duration", "init", "billed"),
    [
        (1006.16, 3254.98, 4262),
        (31000.0, 3568.54, 34569),
        (3757.18, None, 3758),
        (0.02, None, 1),
        (3.0, 1.0, 4),
    ],
)
def test_billed_duration_follows_the_facts_file(duration, init, billed):
    assert loglines.billed_duration_ms(duration, init) == billed


def test_warm_invocations_keep_module_globals(start_function):
    runtime, _ = start_function(
        """
        COUNTER = 0
        def lambda_handler(event, context):
            global COUNTER
            COUNTER += 1
            return COUNTER
        """
    )
    assert [call(runtime, {})[1].record["result"] for _ in range(3)] == [1, 2, 3]


# -- timeouts and crashes ---------------------------------------------------------------


def test_timeout_kills_the_runtime_and_logs_what_lambda_logs(start_function):
    runtime, init = start_function(
        """
        import time
        def lambda_handler(event, context):
            print("before the sleep")
            time.sleep(30)
        """,
        timeout_s=0.5,
    )
    request_id, outcome = call(runtime, {})
    assert outcome.fault == "timeout" and outcome.record is None and outcome.signal == 9
    assert not runtime.alive
    lines = outcome.logs.splitlines()
    assert lines[:2] == [f"START RequestId: {request_id} Version: $LATEST", "before the sleep"]
    timed_out = re.fullmatch(rf"{TS} {request_id} Task timed out after (\d+\.\d\d) seconds", lines[2])
    assert timed_out and 0.5 <= float(timed_out[1]) < 1.5  # elapsed, may be a little above the timeout
    assert lines[3] == f"END RequestId: {request_id}"
    assert lines[4] == (
        f"REPORT RequestId: {request_id}\tDuration: 500.00 ms\t"
        f"Billed Duration: {loglines.billed_duration_ms(500.0, init.init_duration_ms)} ms\t"
        f"Memory Size: 128 MB\tMax Memory Used: 40 MB\tInit Duration: {init.init_duration_ms:.2f} ms\t"
        "Status: timeout"
    )
    with pytest.raises(RuntimeError):
        runtime.invoke(rid(), {})
    # The next case gets a fresh runtime: a cold start again.
    fresh, _ = start_function("def lambda_handler(event, context):\n    return 1\n", timeout_s=0.5)
    after = call(fresh, {})[1]
    assert after.cold and after.record["init_duration_ms"] is not None and "Init Duration" in after.logs


@pytest.mark.parametrize(
    ("body", "exit_code", "signal", "message"),
    [
        ("os._exit(3)", 3, None, "Runtime exited with error: exit status 3"),
        ("os.kill(os.getpid(), signal.SIGKILL)", None, 9, "Runtime exited with error: signal: killed"),
        ("sys.exit(0)", 0, None, "Runtime exited without providing a reason"),
    ],
)
def test_a_runtime_that_dies_is_crashed(start_function, body, exit_code, signal, message):
    runtime, _ = start_function(f"import os, signal, sys\ndef lambda_handler(event, context):\n    {body}\n")
    request_id, outcome = call(runtime, {})
    assert outcome.fault == "crashed" and outcome.record is None
    assert (outcome.exit_code, outcome.signal) == (exit_code, signal)
    assert f"RequestId: {request_id} Error: {message}\nRuntime.ExitError\nEND RequestId: {request_id}\n" in (
        outcome.logs
    )
    assert outcome.logs.endswith("\tStatus: error\tError Type: Runtime.ExitError\n")
    assert not runtime.alive


# -- error documents -------------------------------------------------------------------


def test_an_exception_gives_lambdas_error_document(toolbox):
    request_id, outcome = call(toolbox, {"action": "raise"})
    error = outcome.record["error"]
    assert outcome.record["status"] == "error" and "result" not in outcome.record
    assert error["errorMessage"] == "'missing'"
    assert error["errorType"] == "KeyError"
    assert error["requestId"] == request_id
    trace = error["stackTrace"]
    assert len(trace) == 3  # lambda_handler, do_raise, inner: none of the runtime's frames
    assert all(frame.startswith('  File "') and "/lambda_function.py" in frame for frame in trace)
    assert trace[-1].endswith(', in inner\n    return d["missing"]\n')
    assert "^" not in "".join(trace)  # no caret lines, as format_list of tuples prints
    frames = "".join(
        "\n".join(
            "\u00a0" * (len(line) - len(line.lstrip(" "))) + line.lstrip(" ") for line in frame.splitlines()
        )
        + "\n"
        for frame in trace
    )
    expected = "[ERROR] KeyError: 'missing'\nTraceback (most recent call last):\n" + frames
    assert expected + f"END RequestId: {request_id}\n" in outcome.logs


def _init_error(start_function, code: str, **init):
    runtime, outcome = start_function(code, **init)
    assert outcome.fault is None and not outcome.ok
    return runtime, outcome


def test_syntax_error(start_function):
    runtime, init = _init_error(start_function, "def lambda_handler(event, context)\n    return 1\n")
    error = init.error
    assert error["errorType"] == "Runtime.UserCodeSyntaxError"
    assert re.fullmatch(
        r"Syntax error in module 'lambda_function': expected ':' \(lambda_function\.py, line 1\)",
        error["errorMessage"],
    )
    assert re.fullmatch(
        r'  File "/.+/lambda_function\.py" Line 1\n    def lambda_handler\(event, context\)\n',
        error["stackTrace"][0],
    )
    assert error["requestId"] == ""
    lines = init.logs.splitlines()
    assert re.fullmatch(rf"\[WARNING\]\t{TS}\t\tLAMBDA_WARNING: Unhandled exception\. .+", lines[0])
    assert lines[1] == "[ERROR] Runtime.UserCodeSyntaxError: " + error["errorMessage"]
    assert lines[2] == "Traceback (most recent call last):"
    # Every invocation then reports the init error, with its own request id.
    request_id, outcome = call(runtime, {})
    assert outcome.record["error"] == {**error, "requestId": request_id}


def test_missing_handler(start_function):
    _, init = _init_error(start_function, "def handler(event, context):\n    return 1\n")
    assert init.error == {
        "errorMessage": "Handler 'lambda_handler' missing on module 'lambda_function'",
        "errorType": "Runtime.HandlerNotFound",
        "requestId": "",
        "stackTrace": [],
    }


def test_import_error(start_function):
    _, init = _init_error(
        start_function, "import requests_is_not_here\ndef lambda_handler(e, c):\n    pass\n"
    )
    assert init.error["errorType"] == "Runtime.ImportModuleError"
    assert init.error["errorMessage"] == (
        "Unable to import module 'lambda_function': No module named 'requests_is_not_here'"
    )
    assert init.error["stackTrace"] == []


def test_module_code_raising_reports_its_own_type(start_function):
    _, init = _init_error(start_function, "raise ValueError('bad config')\n")
    assert init.error["errorType"] == "ValueError" and init.error["errorMessage"] == "bad config"
    assert (
        init.error["stackTrace"][-1].startswith('  File "')
        and 'lambda_function.py", line 1' in (init.error["stackTrace"][-1])
    )
    assert not any(
        "_coldstart_runtime" in frame or "sandbox/runtime" in frame for frame in init.error["stackTrace"]
    )


def test_malformed_handler_name(start_function):
    _, init = _init_error(start_function, "def f(e, c):\n    pass\n", handler="nodot")
    assert init.error["errorType"] == "Runtime.MalformedHandlerName"
    assert (
        init.error["errorMessage"] == "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)"
    )


def test_marshal_error(toolbox):
    request_id, outcome = call(toolbox, {"action": "datetime"})
    assert outcome.record["error"] == {
        "errorMessage": "Unable to marshal response: Object of type datetime is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": request_id,
        "stackTrace": [],
    }
    assert (
        "[ERROR] Runtime.MarshalError: Unable to marshal response: Object of type datetime is not JSON "
        f"serializable\nTraceback (most recent call last):\nEND RequestId: {request_id}\n"
    ) in outcome.logs


def test_decimals_and_bytes_marshal_as_lambda_does(toolbox):
    record = call(toolbox, {"action": "decimal"})[1].record
    assert record["result"] == {"price": 12.5, "qty": 3, "text": "café"}
    assert record["response_bytes"] == len(
        '{"price": 12.5, "qty": 3, "text": "café"}'.encode()
    )  # ensure_ascii=False
    record = call(toolbox, {"action": "bytes"})[1].record
    assert record["result"] is None and base64.b64decode(record["result_base64"]) == b"\x00\x01"


def test_response_limit_is_6291556_bytes_of_json(toolbox):
    at_limit = call(toolbox, {"action": "big", "n": MAX_RESPONSE_BYTES - 2})[1].record  # +2 quotes
    assert at_limit["status"] == "ok" and at_limit["response_bytes"] == MAX_RESPONSE_BYTES
    assert len(at_limit["result"]) == MAX_RESPONSE_BYTES - 2
    request_id, outcome = call(toolbox, {"action": "big", "n": MAX_RESPONSE_BYTES - 1})
    assert outcome.record["error"] == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
        "requestId": request_id,
        "stackTrace": [],
    }


def test_memory_error_is_an_error_record_and_the_runtime_survives(toolbox):
    outcome = call(toolbox, {"action": "memory_error"})[1]
    assert outcome.fault is None
    assert outcome.record["error"]["errorType"] == "MemoryError"
    assert call(toolbox, {"action": "echo"})[1].record["status"] == "ok"


def test_max_memory_used_counts_what_the_function_holds(start_function):
    runtime, _ = start_function(TOOLBOX, memory_mb=256)
    before = call(runtime, {})[1].record["max_memory_used_mb"]
    after = call(runtime, {"action": "hold", "mib": 60})[1].record["max_memory_used_mb"]
    assert 40 <= before < 50
    assert after >= before + 55


# -- mocked AWS --------------------------------------------------------------------------

AWS_DOCS_S3_HANDLER = """
import json
import urllib.parse
import boto3

print('Loading function')

s3 = boto3.client('s3')


def lambda_handler(event, context):
    # Get the object from the event and show its content type
    bucket = event['Records'][0]['s3']['bucket']['name']
    key = urllib.parse.unquote_plus(event['Records'][0]['s3']['object']['key'], encoding='utf-8')
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
        print("CONTENT TYPE: " + response['ContentType'])
        return response['ContentType']
    except Exception as e:
        print(e)
        print('Error getting object {} from bucket {}. Make sure they exist '
              'and your bucket is in the same region as this function.'.format(key, bucket))
        raise e
"""

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256))


def s3_put_event(bucket: str, key: str) -> dict:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key, "size": len(JPEG)},
                },
            }
        ]
    }


def test_s3_handler_written_the_aws_docs_way(start_function):
    runtime, init = start_function(AWS_DOCS_S3_HANDLER)
    assert init.ok and init.logs == "Loading function\n"
    seed = {
        "s3": [
            {
                "bucket": "photos",
                "objects": [
                    {
                        "key": "uploads/red flower.jpg",
                        "body_base64": base64.b64encode(JPEG).decode(),
                        "content_type": "image/jpeg",
                    }
                ],
            }
        ]
    }
    event = s3_put_event("photos", "uploads/red+flower.jpg")  # S3 form-encodes keys
    outcome = runtime.invoke(rid(), event, seed)
    assert outcome.record["result"] == "image/jpeg"
    assert "CONTENT TYPE: image/jpeg\n" in outcome.logs
    exported = outcome.record["aws_state"]["s3"]["photos"]["uploads/red flower.jpg"]
    assert exported["size"] == len(JPEG) and exported["content_type"] == "image/jpeg"
    assert base64.b64decode(exported["body_base64"]) == JPEG
    assert exported["sha256"] == hashlib.sha256(JPEG).hexdigest()
    assert exported["etag"] == hashlib.md5(JPEG).hexdigest()  # noqa: S324 - S3's ETag is an MD5
    # The state is reset before every invocation: seeded without the object, the key is gone.
    missing = runtime.invoke(rid(), event, {"s3": [{"bucket": "photos"}]}).record
    assert missing["error"]["errorType"] == "NoSuchKey"
    assert missing["aws_state"]["s3"] == {"photos": {}}
    assert (
        "An error occurred (NoSuchKey) when calling the GetObject operation"
        in missing["error"]["errorMessage"]
    )


def test_writes_to_s3_and_dynamodb_show_in_the_exported_state(start_function):
    runtime, _ = start_function(
        """
        import os
        from decimal import Decimal
        import boto3

        s3 = boto3.client("s3")
        table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])

        def lambda_handler(event, context):
            s3.put_object(Bucket="reports", Key="out/report.bin", Body=bytes([0, 255, 1]),
                          ContentType="application/octet-stream", Metadata={"source": "lambda"})
            seeded = table.get_item(Key={"pk": "a", "sk": 1})["Item"]
            table.put_item(Item={"pk": "b", "sk": 2, "total": Decimal("7.25"), "tags": {"x", "y"}})
            return seeded
        """,
        env={"TABLE_NAME": "Orders"},
    )
    seed = {
        "s3": [{"bucket": "reports"}],
        "dynamodb": [
            {
                "table": "Orders",
                "key_schema": [{"name": "pk", "type": "S"}, {"name": "sk", "type": "N"}],
                "items": [{"pk": "a", "sk": 1, "total": 12.5, "lines": [{"sku": "x", "qty": 2}]}],
            }
        ],
    }
    record = runtime.invoke(rid(), {}, seed).record
    assert record["result"] == {"pk": "a", "sk": 1, "total": 12.5, "lines": [{"sku": "x", "qty": 2}]}
    state = record["aws_state"]
    obj = state["s3"]["reports"]["out/report.bin"]
    assert base64.b64decode(obj["body_base64"]) == bytes([0, 255, 1])
    assert obj["content_type"] == "application/octet-stream" and obj["metadata"] == {"source": "lambda"}
    assert state["dynamodb"]["Orders"] == [
        {"pk": "a", "sk": 1, "total": 12.5, "lines": [{"sku": "x", "qty": 2}]},
        {"pk": "b", "sk": 2, "total": 7.25, "tags": ["x", "y"]},
    ]


def test_sqs_seeded_messages_are_exported_without_receiving_them(start_function):
    runtime, _ = start_function(
        """
        import boto3
        sqs = boto3.client("sqs")
        def lambda_handler(event, context):
            url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"][0]["Body"]
            sqs.send_message(QueueUrl=url, MessageBody="third")
            return {"received": got, "url": url}
        """
    )
    seed = {
        "sqs": [
            {
                "queue": "jobs",
                "messages": [
                    {
                        "body": "first",
                        "message_attributes": {"kind": {"DataType": "String", "StringValue": "a"}},
                    },
                    {"body": "second"},
                ],
            },
            {
                "queue": "jobs.fifo",
                "fifo": True,
                "messages": [{"body": "in order", "message_group_id": "g1"}],
            },
        ]
    }
    record = runtime.invoke(rid(), {}, seed).record
    assert record["result"] == {
        "received": "first",
        "url": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
    }
    jobs = record["aws_state"]["sqs"]["jobs"]
    assert [(m["body"], m["receive_count"], m["visible"]) for m in jobs] == [
        ("first", 1, False),
        ("second", 0, True),
        ("third", 0, True),
    ]
    assert jobs[0]["message_attributes"] == {"kind": {"DataType": "String", "StringValue": "a"}}
    fifo = record["aws_state"]["sqs"]["jobs.fifo"]
    assert [(m["body"], m["message_group_id"], m["receive_count"]) for m in fifo] == [("in order", "g1", 0)]


def test_the_function_account_and_region_reach_moto(start_function):
    runtime, _ = start_function(
        """
        import boto3
        def lambda_handler(event, context):
            sqs = boto3.client("sqs")
            return [sqs.create_queue(QueueName="q")["QueueUrl"], context.invoked_function_arn]
        """,
        region="eu-west-1",
        account_id="111122223333",
    )
    record = runtime.invoke(rid(), {}).record
    assert record["result"] == [
        "https://sqs.eu-west-1.amazonaws.com/111122223333/q",
        "arn:aws:lambda:eu-west-1:111122223333:function:test-fn",
    ]
    assert list(record["aws_state"]["sqs"]) == ["q"]


# -- hostile output ------------------------------------------------------------------------


def test_a_record_forged_on_fds_0_to_255_changes_nothing(toolbox):
    """The channel lives at fd 1023, out of reach of a sweep over the usual fds."""
    request_id, outcome = call(toolbox, {"action": "forge_low_fds"})
    assert outcome.fault is None
    assert outcome.record["result"] == {"real": True}
    assert outcome.logs.count('"result": "forged"') == 2  # fds 1 and 2: the log stream
    assert call(toolbox, {"action": "echo"})[1].record["status"] == "ok"


def test_a_record_forged_on_every_open_fd_is_a_bad_record(start_function):
    """A function that finds the channel (via /proc/self/fd) only spoils its own record."""
    runtime, _ = start_function(
        """
        import os
        def lambda_handler(event, context):
            fake = ('{"op": "invoke", "request_id": "%s", "status": "ok", "result": "forged"}\\n'
                    % context.aws_request_id).encode()
            for name in os.listdir("/proc/self/fd"):
                try:
                    os.write(int(name), fake)
                except OSError:
                    pass
            return "real"
        """
    )
    outcome = call(runtime, {})[1]
    assert outcome.fault == "bad_record" and outcome.record is None
    assert not runtime.alive


def test_a_stdout_flood_is_truncated_with_a_marker(toolbox):
    request_id, outcome = call(toolbox, {"action": "flood", "kib": 1024})
    assert outcome.fault is None and outcome.record["result"] == "flooded"
    assert outcome.logs_truncated
    assert len(outcome.logs.encode()) <= 256 * 1024 + 100
    match = re.search(r"\n\.\.\. \[log output truncated: (\d+) bytes dropped\]\n", outcome.logs)
    assert match and int(match[1]) > 700 * 1024
    assert outcome.logs.startswith(f"START RequestId: {request_id}")
    assert outcome.logs.splitlines()[-1].startswith(f"REPORT RequestId: {request_id}\t")  # the tail is kept


def test_a_flood_past_16_mib_kills_the_runtime(start_function):
    runtime, _ = start_function(TOOLBOX)
    outcome = call(runtime, {"action": "flood", "kib": 20 * 1024})[1]
    assert outcome.fault == "output_limit" and outcome.record is None and outcome.logs_truncated
    assert not runtime.alive
