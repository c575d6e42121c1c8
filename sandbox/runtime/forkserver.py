"""The fork server: heavy imports once, a fresh confined runtime per submission by ``fork``.

Run inside a jail that holds CAP_SYS_ADMIN and nothing else of use (see
``sandbox/jail/forkserver.py``, the worker side, and docs/runtime-protocol.md):

    python -I -B <runtime dir>/bootstrap.py --fork-server --control-fd N --packages DIR ...

It imports boto3 and moto and warms them (``MockedAws.start``) exactly as a
runtime does, says ``ready`` on its control socket, and then serves ``fork``
requests: each carries the new runtime's pipes (SCM_RIGHTS) and limits.

Per request, two processes:

- the *init*, forked by the server as PID 1 of a new PID namespace: it joins the
  submission's cgroups, makes new mount, IPC, UTS and network namespaces, mounts its
  own /proc, /tmp and task root, maps the jail user (as root's worker), drops every
  capability, sets no_new_privs, the seccomp filter and the rlimits, and forks the
  runtime. Then it only reaps, and exits with the runtime's status (128 + N for
  signal N, as bwrap's init does). The function can neither signal it nor outlive
  it: when a PID namespace's init dies, the kernel kills everything inside.
- the *runtime*, its child: ``main.py``'s runtime with the boto3/moto state it
  inherited. It says ``ready`` and serves init and invokes like a runtime started
  from scratch.

The server keeps each jail: when the worker closes the jail's "life" pipe it
SIGKILLs the init; once the init is reaped (the namespace is empty) it writes the
exit status on the jail's status pipe (``{"exit": N}`` or ``{"signal": N}``).

The server itself never runs learner code and never reads anything a runtime
wrote. It is single-threaded (fork needs that) and its garbage is frozen before
the first fork, so children share its pages instead of copying them.
"""

import argparse
import contextlib
import gc
import json
import os
import selectors
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
SETUP_TIMEOUT_S = 10.0  # a runtime's namespaces and mounts, up to its user namespace
PIPES_PER_REQUEST = 5  # requests, logs, replies, status, life; then cgroup.procs files
# PID 1 of each runtime's namespace: it only has to exist (and it never reaps: orphans
# stay zombies until the namespace ends, with the submission).
INIT_ARGV = ["/usr/bin/sleep", "infinity"]


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bootstrap.py --fork-server")
    parser.add_argument("--fork-server", action="store_true")
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--packages", action="append", default=[])
    parser.add_argument("--task-root", default="/var/task")
    parser.add_argument("--map-user", default="993:990", help="UID:GID of the jail user in each runtime")
    return parser.parse_args(argv)


def _close_all_but(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep and fd > 2:
            with contextlib.suppress(OSError):
                os.close(fd)


def _status_doc(status: int) -> dict:
    """How the runtime ended."""
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"exit": os.waitstatus_to_exitcode(status)}


def _runtime(
    request: dict, args: argparse.Namespace, aws: MockedAws, fds: dict[str, int], cgroups: list[int]
) -> int:
    """PID 2 of a new PID namespace, forked by the server: confine, then serve as the runtime."""
    confine.set_parent_death_signal(signal.SIGKILL)  # the server's death ends the jail
    # A session and process group of its own: kill(0, ...) reaches a process group
    # across PID namespaces, and the server's group must not be the function's.
    os.setsid()
    os.close(fds["status"])  # the server's, to report how this runtime ended
    os.close(fds["life"])
    confine.set_dumpable(True)  # the server is not; a runtime owns its /proc/self as usual
    confine.set_name("coldstart-rt")
    for fd in cgroups:  # "0" moves the writer: the runtime and all it forks are counted there
        os.write(fd, b"0")
        os.close(fd)
    confine.new_namespaces()
    confine.build_filesystem(
        tmp_bytes=int(request["tmp_bytes"]),
        task_bytes=int(request["task_bytes"]),
        task_root=args.task_root,
        hostname=str(request.get("hostname") or "sandbox"),
    )
    confine.raise_oom_score()
    # The jail user (993, as on Lambda): a user namespace of our own, whose maps the server writes.
    os.unshare(os.CLONE_NEWUSER)
    os.write(fds["sync"], b"u")
    if os.read(fds["sync"], 1) != b"g":
        return EXIT_RUNTIME_ERROR
    os.close(fds["sync"])
    confine.drop_capabilities()
    confine.apply_rlimits(request["rlimits"])
    if request.get("seccomp"):
        confine.load_seccomp(bytes.fromhex(request["seccomp"]))
    # From here on this process is as confined as a fresh jail's runtime.
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


class Jail:
    """One runtime and the init of its PID namespace, as the server keeps them."""

    def __init__(self, *, init: int, runtime: int, status_fd: int, life_fd: int) -> None:
        self.init = init
        self.runtime = runtime
        self.init_fd = os.pidfd_open(init)
        self.runtime_fd = os.pidfd_open(runtime)
        self.status_fd = status_fd
        self.life_fd: int | None = life_fd
        self.runtime_status: int | None = None
        self.init_reaped = False

    def kill(self) -> None:
        for pidfd in (self.runtime_fd, self.init_fd):
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)


class Server:
    """The server's loop: fork requests on the control socket, and the jails it keeps.

    A jail is two processes, both the server's children: the init of a new PID
    namespace, ``sleep infinity`` spawned without copying the server (vfork + exec,
    no capability), and the runtime, forked into that namespace as its PID 2. The
    init cannot be signalled from inside; when it dies, the kernel kills everything
    in the namespace. When the worker closes the "life" pipe, or the runtime ends,
    the server kills both; once both are reaped (the namespace is empty) it writes
    the runtime's exit status to the status pipe.
    """

    def __init__(self, control: socket.socket, args: argparse.Namespace, aws: MockedAws) -> None:
        self.control = control
        self.args = args
        self.aws = aws
        self.selector = selectors.DefaultSelector()
        self.selector.register(control, selectors.EVENT_READ, ("control", None))
        self.own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)

    def serve(self) -> int:
        while True:
            for key, _events in self.selector.select():
                what, jail = key.data
                if what == "control":
                    if not self._request():
                        return 0
                    continue
                if what == "life":
                    if os.read(key.fd, 64):
                        continue  # nothing is ever written; only the end counts
                    self.selector.unregister(key.fd)
                    os.close(key.fd)
                    jail.life_fd = None
                    jail.kill()  # the worker let go: end the jail
                elif what == "runtime":
                    self.selector.unregister(key.fd)
                    _, jail.runtime_status = os.waitpid(jail.runtime, 0)
                    jail.kill()  # the init: the rest of the namespace goes with it
                elif what == "init":
                    self.selector.unregister(key.fd)
                    os.waitpid(jail.init, 0)
                    jail.init_reaped = True
                if jail.init_reaped and jail.runtime_status is not None:
                    self._close(jail)

    def _close(self, jail: Jail) -> None:
        with contextlib.suppress(OSError):  # the worker may have gone already
            os.write(jail.status_fd, json.dumps(_status_doc(jail.runtime_status)).encode() + b"\n")
        for fd in (jail.status_fd, jail.init_fd, jail.runtime_fd):
            os.close(fd)
        if jail.life_fd is not None:
            self.selector.unregister(jail.life_fd)
            os.close(jail.life_fd)

    def _request(self) -> bool:
        try:
            message, received, _flags, _addr = socket.recv_fds(self.control, MAX_REQUEST_BYTES, 16)
        except ConnectionResetError:
            return False
        if not message:
            return False  # the worker closed the socket
        for fd in received:  # SCM_RIGHTS does not carry close-on-exec: no init may inherit them
            os.set_inheritable(fd, False)
        try:
            request = json.loads(message)
            if request.get("op") != "fork" or len(received) < PIPES_PER_REQUEST:
                raise ValueError(f"bad request {request.get('op')!r} with {len(received)} fds")
            pid = self._fork(request, received)
        except Exception as exc:  # report and go on: a bad request must not end the server
            traceback.print_exc()  # into the worker's log
            for fd in received:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self.control.send(json.dumps({"op": "error", "error": f"{type(exc).__name__}: {exc}"}).encode())
            return True
        self.control.send(json.dumps({"op": "forked", "pid": pid}).encode())
        return True

    def _map_user(self, sync: socket.socket, pid: int) -> None:
        """Once the runtime has its user namespace, map the jail user to ours in it."""
        sync.settimeout(SETUP_TIMEOUT_S)
        if sync.recv(1) != b"u":
            raise RuntimeError("the runtime ended before its user namespace existed")
        uid, _, gid = self.args.map_user.partition(":")
        confine.write_id_maps(pid, uid=int(uid), gid=int(gid))
        sync.sendall(b"g")

    def _spawn_init(self) -> int:
        os.unshare(os.CLONE_NEWPID)  # the next child is PID 1 of a new PID namespace...
        try:
            return os.posix_spawn(INIT_ARGV[0], INIT_ARGV, {}, setsid=True)
        finally:
            os.setns(self.own_pid_ns, os.CLONE_NEWPID)  # ...and only that one

    def _fork_into(self, init: int) -> int:
        """Fork a child into ``init``'s PID namespace (0 in the child)."""
        init_ns = os.open(f"/proc/{init}/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.setns(init_ns, os.CLONE_NEWPID)
        finally:
            os.close(init_ns)
        try:
            pid = os.fork()
        except BaseException:
            os.setns(self.own_pid_ns, os.CLONE_NEWPID)
            raise
        if pid:
            os.setns(self.own_pid_ns, os.CLONE_NEWPID)
        return pid

    def _fork(self, request: dict, received: list[int]) -> int:
        names = ("requests", "logs", "replies", "status", "life")
        fds = dict(zip(names, received[:PIPES_PER_REQUEST], strict=True))
        cgroups = received[PIPES_PER_REQUEST:]
        ours, fds["sync"] = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fds["sync"] = fds["sync"].detach()
        init = self._spawn_init()
        pid = 0
        try:
            pid = self._fork_into(init)
            if pid == 0:
                code = EXIT_RUNTIME_ERROR
                try:
                    _close_all_but({*received, fds["sync"]})
                    code = _runtime(request, self.args, self.aws, fds, cgroups)
                except BaseException:
                    traceback.print_exc()
                finally:
                    os._exit(code)
            os.close(fds["sync"])
            self._map_user(ours, pid)
        except BaseException:
            for child in (init, pid):
                if child:
                    os.kill(child, signal.SIGKILL)
                    os.waitpid(child, 0)
            raise
        finally:
            ours.close()
        for name in ("requests", "logs", "replies"):
            os.close(fds[name])
        for fd in cgroups:
            os.close(fd)
        jail = Jail(init=init, runtime=pid, status_fd=fds["status"], life_fd=fds["life"])
        self.selector.register(jail.runtime_fd, selectors.EVENT_READ, ("runtime", jail))
        self.selector.register(jail.init_fd, selectors.EVENT_READ, ("init", jail))
        self.selector.register(fds["life"], selectors.EVENT_READ, ("life", jail))
        return pid


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
    confine.set_name("coldstart-fork")
    confine.clear_ambient_capabilities()  # kept (effective) for forks; gone for what it execs
    confine.set_dumpable(False)  # /proc/<pid>/mem and friends need CAP_SYS_PTRACE
    gc.collect()
    gc.freeze()  # children share the warm heap instead of copying it at their first collection
    control.send(json.dumps({"op": "ready", "pid": os.getpid()}).encode())
    return Server(control, args, aws).serve()
