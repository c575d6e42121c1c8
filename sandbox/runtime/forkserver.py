"""The fork server: heavy imports once, a fresh confined runtime per submission by ``fork``.

Run inside a jail that holds CAP_SYS_ADMIN and nothing else of use (see
``sandbox/jail/forkserver.py``, the worker side, and docs/runtime-protocol.md):

    python -I -B <runtime dir>/bootstrap.py --fork-server --control-fd N --packages DIR ...

It imports boto3 and moto and warms them (``MockedAws.start``) exactly as a
runtime does, says ``ready`` on its control socket, and then serves ``fork``
requests: each carries the new runtime's pipes (SCM_RIGHTS) and limits.

Per request, two processes:

- the *keeper* (forked from the server): joins the submission's cgroups, makes new
  mount, PID, IPC, UTS and network namespaces, forks the runtime and waits for
  it. When the worker closes the "life" pipe it SIGKILLs the runtime, which is the
  init of its PID namespace, so the kernel kills everything inside; then it writes
  the exit status on the status pipe and exits. The learner cannot see or signal
  it (it is outside their PID namespace).
- the *runtime*: PID 1 of the new namespace. It mounts its own /proc, /tmp and
  task root, maps the jail user (as root's worker), drops every capability, sets
  no_new_privs, the seccomp filter and the rlimits, and only then becomes the
  runtime of ``main.py`` with the boto3/moto state it inherited, says ``ready``
  and serves init and invokes like a runtime started from scratch.

The server itself never runs learner code and never reads anything a runtime
wrote. It is single-threaded (fork needs that) and its garbage is frozen before
the first fork, so children share its pages instead of copying them.
"""

import argparse
import contextlib
import gc
import json
import os
import select
import signal
import socket
import sys
import threading
import traceback

from . import confine, logs
from .awsmock import MockedAws
from .main import Runtime, _add_packages, _limit_malloc_arenas, _move_fd, _private_fd_ceiling
from .protocol import EXIT_RUNTIME_ERROR

MAX_REQUEST_BYTES = 64 * 1024
PIPES_PER_REQUEST = 5  # requests, logs, replies, status, life; then cgroup.procs files
SIGNAL_EXIT_BASE = 128  # the init reports a runtime killed by signal N as exit status 128 + N


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bootstrap.py --fork-server")
    parser.add_argument("--fork-server", action="store_true")
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--packages", action="append", default=[])
    parser.add_argument("--task-root", default="/var/task")
    parser.add_argument("--map-user", help="UID:GID to map in a user namespace per runtime")
    return parser.parse_args(argv)


def _close_all_but(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep and fd > 2:
            with contextlib.suppress(OSError):
                os.close(fd)


def _status_doc(status: int) -> dict:
    """How the jail ended: the init's signal, or the runtime's (passed on by the init)."""
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    code = os.waitstatus_to_exitcode(status)
    if SIGNAL_EXIT_BASE < code < SIGNAL_EXIT_BASE + 65:
        return {"signal": code - SIGNAL_EXIT_BASE}
    return {"exit": code}


def _reap_until(runtime_pid: int) -> int:
    """PID 1's loop: reap whatever ends up here; leave with the runtime's status (128 + N
    for signal N, as bwrap reports it). The kernel then kills the rest of the namespace."""
    while True:
        pid, status = os.wait()
        if pid == runtime_pid:
            if os.WIFSIGNALED(status):
                return SIGNAL_EXIT_BASE + os.WTERMSIG(status)
            return os.waitstatus_to_exitcode(status)


def _runtime(request: dict, args: argparse.Namespace, aws: MockedAws, fds: dict[str, int]) -> int:
    """PID 1 of the new namespaces: confine, then serve as a runtime."""
    confine.set_parent_death_signal(signal.SIGKILL)  # the keeper's death ends the jail
    confine.set_dumpable(True)  # the server is not; a runtime owns its /proc/self as usual
    os.close(fds["status"])
    os.close(fds["life"])
    confine.build_filesystem(
        tmp_bytes=int(request["tmp_bytes"]),
        task_bytes=int(request["task_bytes"]),
        task_root=args.task_root,
        hostname=str(request.get("hostname") or "sandbox"),
    )
    confine.raise_oom_score()
    if args.map_user:
        uid, _, gid = args.map_user.partition(":")
        confine.map_jail_user(int(uid), int(gid))
    confine.drop_capabilities()
    confine.apply_rlimits(request["rlimits"])
    if request.get("seccomp"):
        confine.load_seccomp(bytes.fromhex(request["seccomp"]))
    # From here on this process is as confined as a fresh jail's runtime. It stays as the
    # namespace's init, which the function can neither signal nor outlive, and the runtime
    # is its child: as in a bwrap jail, where bwrap's reaper is PID 1.
    pid = os.fork()
    if pid:
        for name in ("requests", "logs", "replies"):
            os.close(fds[name])
        return _reap_until(pid)
    os.dup2(fds["logs"], 1)
    os.dup2(fds["logs"], 2)
    os.close(fds["logs"])
    ceiling = _private_fd_ceiling()
    reply_fd = _move_fd(fds["replies"], ceiling - 1)
    request_fd = _move_fd(fds["requests"], ceiling - 2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    if devnull != 0:
        os.dup2(devnull, 0)
        os.close(devnull)
    os.chdir(args.task_root)
    logs.install_std_streams()
    runtime = Runtime(reply_fd=reply_fd, request_fd=request_fd, task_root=args.task_root, aws=aws)
    try:
        runtime.start()
        runtime.serve()
    except Exception:
        traceback.print_exc()
        return EXIT_RUNTIME_ERROR
    return 0


def _keeper(
    request: dict, args: argparse.Namespace, aws: MockedAws, fds: dict[str, int], cgroups: list[int]
) -> int:
    """Outside the new PID namespace: start the runtime, kill it when told, report how it ended."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in cgroups:  # "0" moves the writer: the runtime and all it forks are counted there
        os.write(fd, b"0")
        os.close(fd)
    confine.new_namespaces()
    pid = os.fork()
    if pid == 0:
        code = EXIT_RUNTIME_ERROR
        try:
            code = _runtime(request, args, aws, fds)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    for name in ("requests", "logs", "replies"):
        os.close(fds[name])
    pidfd = os.pidfd_open(pid)
    while True:
        readable, _, _ = select.select([pidfd, fds["life"]], [], [])
        if pidfd in readable:
            break
        if not os.read(fds["life"], 64):  # the worker let go: end the jail
            os.kill(pid, signal.SIGKILL)
            break
    _, status = os.waitpid(pid, 0)  # the namespace's init: returns once everything inside is gone
    os.write(fds["status"], json.dumps(_status_doc(status)).encode() + b"\n")
    return 0


def _fork(
    control: socket.socket, request: dict, received: list[int], args: argparse.Namespace, aws: MockedAws
) -> None:
    names = ("requests", "logs", "replies", "status", "life")
    fds = dict(zip(names, received[:PIPES_PER_REQUEST], strict=True))
    cgroups = received[PIPES_PER_REQUEST:]
    pid = os.fork()
    if pid == 0:
        code = EXIT_RUNTIME_ERROR
        try:
            control.close()
            _close_all_but(set(received))
            code = _keeper(request, args, aws, fds, cgroups)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    for fd in received:
        os.close(fd)
    control.send(json.dumps({"op": "forked", "pid": pid}).encode())


def serve(control: socket.socket, args: argparse.Namespace, aws: MockedAws) -> int:
    while True:
        try:
            message, received, _flags, _addr = socket.recv_fds(control, MAX_REQUEST_BYTES, 16)
        except ConnectionResetError:
            return 0
        if not message:
            return 0  # the worker closed the socket
        try:
            request = json.loads(message)
            if request.get("op") != "fork" or len(received) < PIPES_PER_REQUEST:
                raise ValueError(f"bad request {request.get('op')!r} with {len(received)} fds")
            _fork(control, request, received, args, aws)
        except Exception as exc:  # report and go on: a bad request must not end the server
            for fd in received:
                with contextlib.suppress(OSError):
                    os.close(fd)
            control.send(json.dumps({"op": "error", "error": f"{type(exc).__name__}: {exc}"}).encode())


def main(argv: list[str], script: str) -> int:
    args = _parse_args(argv)
    control = socket.socket(fileno=args.control_fd)
    os.set_inheritable(control.fileno(), False)
    sys.argv = [script]
    _limit_malloc_arenas()
    _add_packages(args.packages)
    aws = MockedAws()
    aws.start()
    if threading.active_count() != 1:  # fork copies only the calling thread
        print(f"fork server: {threading.active_count()} threads after warm-up", file=sys.stderr)
        return EXIT_RUNTIME_ERROR
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # keepers are reaped by the kernel
    confine.set_dumpable(False)  # /proc/<pid>/mem and friends need CAP_SYS_PTRACE
    gc.collect()
    gc.freeze()  # children share the warm heap instead of copying it at their first collection
    control.send(json.dumps({"op": "ready", "pid": os.getpid()}).encode())
    return serve(control, args, aws)
