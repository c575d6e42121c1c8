"""RuntimeProcess against scripted fake runtimes: every way a runtime can misbehave.

The fakes speak the protocol (docs/runtime-protocol.md) from a few lines of
Python, well or badly on purpose, so the driver's defences are tested without
boto3 start-up costs. The real runtime is tested in test_runtime.py.
"""

import os
import re
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from sandbox.jail import process
from sandbox.jail.process import RuntimeProcess, RuntimeStartError, _LogCapture
from sandbox.runtime.protocol import MAX_RECORD_BYTES

FAKE_RUNTIME = textwrap.dedent(
    """
    import json, os, sys, time
    channel, mode = int(sys.argv[1]), sys.argv[2]

    def send(doc):
        os.write(channel, (doc if isinstance(doc, bytes) else json.dumps(doc).encode()) + b"\\n")

    def write_all(fd, data):
        while data:
            data = data[os.write(fd, data):]

    print("fake runtime starting", flush=True)
    if mode == "never_ready":
        time.sleep(60)
    if mode == "garbage_ready":
        send(b"hello")
        time.sleep(60)
    if mode == "exit_before_ready":
        print("boom", flush=True)
        sys.exit(5)
    if mode == "fork_child":
        if os.fork() == 0:
            print("child", os.getpid(), flush=True)
            time.sleep(60)
            os._exit(0)
        time.sleep(0.2)
    send({"op": "ready"})
    for line in sys.stdin:
        request = json.loads(line)
        base = {"nonce": request["nonce"]}
        if request["op"] == "init":
            print("init log", flush=True)
            if mode == "init_hang":
                time.sleep(60)
            send({"op": "init", **base, "ok": True, "init_duration_ms": 1.5})
            if mode == "no_read":
                time.sleep(60)
            continue
        base["request_id"] = request["request_id"]
        record = {"op": "invoke", **base, "status": "ok", "duration_ms": 1.0, "billed_duration_ms": 1,
                  "memory_size_mb": 128, "max_memory_used_mb": 41, "init_duration_ms": None,
                  "aws_state": {"s3": {}, "dynamodb": {}, "sqs": {}}, "response_bytes": 2,
                  "result": {"event_bytes": len(line)}}
        if mode == "setup_hang":
            time.sleep(60)
        if mode == "skip_start":
            send(record)
            continue
        send({"op": "start", **base})
        print("handler log", flush=True)
        if mode == "hang":
            time.sleep(60)
        if mode == "exit_in_handler":
            os._exit(7)
        if mode == "logs":
            write_all(1, b"y" * 400_000 + b"\\nlast line\\n")
        send({"op": "end", **base})
        if mode == "finish_hang":
            time.sleep(60)
        if mode == "no_nonce":
            record.pop("nonce")
        if mode == "wrong_request_id":
            record["request_id"] = "someone-else"
        if mode == "bad_schema":
            record.pop("response_bytes")
        if mode == "bad_error":
            record.update(status="error", error={"errorMessage": "x"})
            record.pop("result"), record.pop("response_bytes")
        if mode == "bad_state":
            record["aws_state"] = {"s3": []}
        if mode == "garbage":
            send(b"not json")
            continue
        if mode == "oversized":
            write_all(channel, b"x" * (MAX + 10))
            time.sleep(60)
        if mode == "two_records":  # in one write: both are in the pipe when the driver reads
            write_all(channel, (json.dumps(record) + "\\n").encode() * 2)
            continue
        send(record)
        if mode == "late_record":
            time.sleep(0.2)
            send(record)
    """
).replace("MAX", str(MAX_RECORD_BYTES))


class OomKilledPopen(subprocess.Popen):
    """What a jail's process says when its memory cgroup's OOM killer struck (see bwrap.JailProcess)."""

    oom_killed = True


class FakeLauncher:
    name = "fake"
    isolated = False

    def __init__(self, mode: str, popen: type[subprocess.Popen] = subprocess.Popen) -> None:
        self.mode = mode
        self.popen = popen

    def spawn(self, *, channel_fd: int, memory_mb: int, timeout_s: float) -> subprocess.Popen[bytes]:
        return self.popen(
            [sys.executable, "-I", "-c", FAKE_RUNTIME, str(channel_fd), self.mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(channel_fd,),
            start_new_session=True,
            env={"PATH": "/usr/bin:/bin"},
        )


def started(mode: str, **kwargs) -> RuntimeProcess:
    runtime = RuntimeProcess.start(FakeLauncher(mode), **kwargs)
    init = runtime.init(code="", function_name="fake")
    assert init.ok and init.logs == "init log\n", init
    return runtime


def test_log_capture_keeps_head_and_tail():
    capture = _LogCapture()
    for index in range(1000):
        capture.feed(f"line {index:04d} ".encode() + b"." * 990 + b"\n")
    text, truncated = capture.text()
    assert truncated and len(text.encode()) <= process.LOG_CAP_BYTES + 100
    assert text.startswith("line 0000 ") and text.endswith("line 0999 " + "." * 990 + "\n")
    marker = re.search(r"\n\.\.\. \[log output truncated: (\d+) bytes dropped\]\n", text)
    assert marker
    tail = text[marker.end() :]
    assert tail.startswith("line ")  # the tail starts on a whole line
    assert int(marker[1]) == capture.total - len(capture.head) - len(tail.encode())


def test_log_capture_under_the_cap_is_untouched():
    capture = _LogCapture()
    capture.feed(b"a\n")
    capture.feed("é\n".encode())
    assert capture.text() == ("a\né\n", False)


def test_a_well_behaved_runtime():
    with started("ok") as runtime:
        assert runtime.startup_logs == "fake runtime starting\n" and runtime.startup_ms > 0
        request_id = str(uuid.uuid4())
        outcome = runtime.invoke(request_id, {"big": "x" * 3_000_000})  # written without blocking
        assert outcome.fault is None and outcome.cold
        assert outcome.record["request_id"] == request_id and "nonce" not in outcome.record
        assert outcome.record["result"]["event_bytes"] > 3_000_000
        assert outcome.logs == "handler log\n"
        assert not runtime.invoke(str(uuid.uuid4()), {}).cold
        with pytest.raises(RuntimeError):
            runtime.init(code="", function_name="again")
    assert not runtime.alive
    runtime.kill()  # idempotent


def test_invoke_before_init_is_a_programming_error():
    with RuntimeProcess.start(FakeLauncher("ok")) as runtime, pytest.raises(RuntimeError):
        runtime.invoke("id", {})


@pytest.mark.parametrize(
    ("mode", "kwargs", "exit_code", "words"),
    [
        ("never_ready", {"ready_timeout": 0.5}, None, "not ready within"),
        ("garbage_ready", {}, None, "not JSON"),
        ("exit_before_ready", {}, 5, "exited"),
    ],
)
def test_a_runtime_that_never_gets_ready(mode, kwargs, exit_code, words):
    with pytest.raises(RuntimeStartError, match=words) as error:
        RuntimeProcess.start(FakeLauncher(mode), **kwargs)
    assert error.value.logs.startswith("fake runtime starting\n")
    assert error.value.exit_code == exit_code


@pytest.mark.parametrize(
    "mode",
    [
        "two_records",
        "no_nonce",
        "wrong_request_id",
        "bad_schema",
        "bad_error",
        "bad_state",
        "garbage",
        "skip_start",
    ],
)
def test_a_wrong_reply_is_a_bad_record(mode):
    runtime = started(mode)
    outcome = runtime.invoke(str(uuid.uuid4()), {})
    assert outcome.fault == "bad_record" and outcome.record is None and outcome.detail
    assert not runtime.alive


def test_a_line_written_after_the_record_spoils_the_next_exchange():
    """Only what is already in the pipe can be checked with the record; later lines surface next time."""
    runtime = started("late_record")
    assert runtime.invoke(str(uuid.uuid4()), {}).fault is None
    time.sleep(0.4)
    outcome = runtime.invoke(str(uuid.uuid4()), {})
    assert outcome.fault == "bad_record" and "nonce" in outcome.detail


def test_an_oversized_reply_is_a_bad_record():
    runtime = started("oversized")
    outcome = runtime.invoke(str(uuid.uuid4()), {})
    assert outcome.fault == "bad_record" and "longer than" in outcome.detail


def test_the_handler_timeout_writes_lambdas_lines():
    runtime = started("hang", timeout_s=0.3)
    request_id = str(uuid.uuid4())
    outcome = runtime.invoke(request_id, {})
    assert outcome.fault == "timeout" and outcome.signal == 9 and outcome.cold
    assert outcome.describe() == "timeout: the handler ran for more than 0.30 s"
    lines = outcome.logs.splitlines()
    assert lines[0] == "handler log"
    timed_out = re.fullmatch(rf"\S+Z {request_id} Task timed out after (\d+\.\d\d) seconds", lines[1])
    assert timed_out and 0.3 <= float(timed_out[1]) < 1.3
    assert lines[2] == f"END RequestId: {request_id}"
    assert lines[3] == (
        f"REPORT RequestId: {request_id}\tDuration: 300.00 ms\tBilled Duration: 302 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 40 MB\tInit Duration: 1.50 ms\tStatus: timeout"
    )
    assert 300 <= outcome.wall_ms < 2000


@pytest.mark.parametrize(
    ("mode", "constant"), [("setup_hang", "SETUP_TIMEOUT_S"), ("finish_hang", "FINISH_TIMEOUT_S")]
)
def test_the_runtime_stuck_outside_the_handler_is_a_timeout_without_lambda_lines(monkeypatch, mode, constant):
    monkeypatch.setattr(process, constant, 0.3)
    runtime = started(mode)
    outcome = runtime.invoke(str(uuid.uuid4()), {})
    assert outcome.fault == "timeout" and "not the handler's time" in outcome.detail
    assert "Task timed out" not in outcome.logs


def test_a_runtime_that_does_not_read_its_requests_cannot_block_the_driver(monkeypatch):
    monkeypatch.setattr(process, "SETUP_TIMEOUT_S", 0.5)
    runtime = started("no_read")
    began = time.monotonic()
    outcome = runtime.invoke(str(uuid.uuid4()), {"big": "x" * 8_000_000})  # far more than a pipe holds
    assert outcome.fault == "timeout" and time.monotonic() - began < 3


def test_init_timeout():
    runtime = RuntimeProcess.start(FakeLauncher("init_hang"))
    init = runtime.init(code="", function_name="fake", init_timeout_s=0.1)
    assert not init.ok and init.fault == "timeout" and init.logs == "init log\n"


def test_a_runtime_exiting_in_the_handler_is_crashed():
    runtime = started("exit_in_handler")
    request_id = str(uuid.uuid4())
    outcome = runtime.invoke(request_id, {})
    assert outcome.fault == "crashed" and outcome.exit_code == 7 and outcome.signal is None
    assert outcome.logs.startswith(
        f"handler log\nRequestId: {request_id} Error: Runtime exited with error: exit status 7\n"
        f"Runtime.ExitError\nEND RequestId: {request_id}\nREPORT RequestId: {request_id}\t"
    )
    assert outcome.describe() == "crashed: the runtime exited while running (exit status 7)"
    assert not outcome.oom_killed


def test_an_oom_kill_reported_by_the_launcher_shows_in_the_outcome():
    runtime = RuntimeProcess.start(FakeLauncher("exit_in_handler", OomKilledPopen), memory_mb=256)
    runtime.init(code="", function_name="fake")
    outcome = runtime.invoke("req", {})
    assert outcome.oom_killed and outcome.describe().endswith("; killed by the out-of-memory killer")
    assert "\tMemory Size: 256 MB\tMax Memory Used: 256 MB\t" in outcome.logs  # as Lambda shows an OOM kill


def test_describe_is_empty_without_a_fault_and_last_init_is_kept():
    with started("ok") as runtime:
        assert runtime.last_init is not None and runtime.last_init.ok and runtime.last_init.describe() == ""
        assert runtime.invoke("req", {}).describe() == ""


def test_init_refuses_a_memory_size_the_runtime_was_not_started_for():
    with RuntimeProcess.start(FakeLauncher("ok"), memory_mb=128) as runtime:
        with pytest.raises(ValueError, match="128 MB"):
            runtime.init(code="", function_name="fake", memory_mb=512)
        assert runtime.init(code="", function_name="fake", memory_mb=128).ok


def test_logs_beyond_the_cap_are_truncated_but_the_record_stands():
    runtime = started("logs")
    outcome = runtime.invoke(str(uuid.uuid4()), {})
    assert outcome.fault is None and outcome.logs_truncated
    assert outcome.logs.endswith("\nlast line\n") and "[log output truncated: " in outcome.logs


def test_kill_takes_the_whole_process_group():
    runtime = RuntimeProcess.start(FakeLauncher("fork_child"))
    child = int(re.search(r"child (\d+)", runtime.startup_logs)[1])
    runtime.kill()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{child}/stat") as stat:
                if stat.read().split(") ")[1].startswith("Z"):
                    break  # a zombie: dead, waiting for its new parent to reap it
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        os.kill(child, 9)
        pytest.fail("the runtime's child survived kill()")
