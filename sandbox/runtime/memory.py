"""The "Max Memory Used" figure of the REPORT line.

On Lambda it is the sandbox's peak memory: about 40 MB for a python3.13
function that does little, more once it imports boto3 and holds data. Our
runtime process is not comparable: it has boto3, botocore and moto (with its
backends warmed) imported before the function exists, which alone is ~100 MB
of resident memory the learner did not ask for.

So we report a learner-attributable figure:

    Max Memory Used = MEMORY_BASELINE_MB (40 MB)
                      + the growth of peak RSS over the RSS measured right before init

The peak is the kernel's high-water mark (``VmHWM``), reset to the current RSS
when init starts (``/proc/self/clear_refs``, Linux 4.0+), so the warm-up's
transient peak does not hide the function's growth. Without ``/proc`` the
figure falls back to ``ru_maxrss`` against the RSS peak measured at init.
Like Lambda's, it never goes down between warm invocations, and it is capped at
the function's memory size. It counts the function's module, its data, and the
mocked AWS state it creates; it does not count a boto3 import (ours is free).
"""

import math
import resource

from .protocol import MEMORY_BASELINE_MB


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _ru_maxrss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class MemoryMeter:
    def __init__(self) -> None:
        self._base_kb: int | None = None
        self._use_proc = False

    def mark_baseline(self) -> None:
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
                clear_refs.write("5")
            rss = _status_kb("VmRSS")
            self._use_proc = rss is not None and _status_kb("VmHWM") is not None
        except OSError:
            rss = None
        self._base_kb = rss if self._use_proc else _ru_maxrss_kb()

    def peak_growth_kb(self) -> int:
        peak = _status_kb("VmHWM") if self._use_proc else None
        if peak is None:
            peak = _ru_maxrss_kb()
        return max(0, peak - (self._base_kb or peak))

    def max_memory_used_mb(self, memory_size_mb: int) -> int:
        used = MEMORY_BASELINE_MB + math.ceil(self.peak_growth_kb() / 1024)
        return min(used, memory_size_mb)
