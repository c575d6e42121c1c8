"""How long the first runtime for each of the course's keys takes, in a worker process whose pool
keeps only ``128:3`` ready (the default). A measurement, not a test:

    .venv/bin/python -m bench.first_runtime [--rounds 5]

Each round starts a fork server launcher and a pool as a worker process does, waits until the
pre-warmed key is full, then times ``acquire`` for a key nothing is kept ready for: the time the
first submission to that exercise adds. Prints a Markdown table (medians and p95 over rounds).
"""

import argparse
import time

from bench.run import summary
from sandbox.jail.bwrap import BwrapLauncher
from sandbox.jail.forkserver import ForkServerLauncher
from sandbox.jail.pool import PoolKey, WarmPool

PREWARMED = PoolKey.of(128, 3)
# The course's other (memory, timeout) keys: SQS; context; thumbnail. And the pre-warmed one.
KEYS = [PoolKey.of(128, 5), PoolKey.of(256, 3), PoolKey.of(256, 10), PREWARMED]


def first_acquire_ms(key: PoolKey) -> float:
    launcher = ForkServerLauncher(BwrapLauncher())
    pool = WarmPool(launcher, size=2)
    try:
        pool.prewarm([PREWARMED])
        if not pool.wait_until_full(PREWARMED, timeout=60):
            raise RuntimeError(f"the pool did not fill: {pool.describe()}")
        started = time.perf_counter()
        runtime = pool.acquire(memory_mb=key.memory_mb, timeout_s=key.timeout_class)
        elapsed = (time.perf_counter() - started) * 1000
        runtime.kill()
        return elapsed
    finally:
        pool.shutdown()
        launcher.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print("| first runtime for | median | p95 | rounds |\n|---|---|---|---|")
    for key in KEYS:
        figures = summary([first_acquire_ms(key) for _ in range(args.rounds)])
        kept = " (kept ready)" if key == PREWARMED else ""
        print(f"| {key}{kept} | {figures['median']:.1f} ms | {figures['p95']:.1f} ms | {figures['n']} |")


if __name__ == "__main__":
    main()
