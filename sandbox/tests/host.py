"""Looking at the host from a test: which processes live in a jail's PID namespace."""

import contextlib
import os


def processes_in(namespaces: set[str]) -> set[int]:
    """Live (not zombie) host processes whose PID namespace is one of these."""
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if os.readlink(f"/proc/{entry.name}/ns/pid") in namespaces:
                    with open(f"/proc/{entry.name}/stat", "rb") as stat:
                        if stat.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X"):
                            found.add(int(entry.name))
    return found
