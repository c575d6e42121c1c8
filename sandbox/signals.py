"""Celery worker signals: each prefork child gets its own warm pool, and kills it on exit.

Connected in ``SandboxConfig.ready``. The pool is made in the child, after the fork
(threads do not survive one), and never in the parent, which grades nothing.
"""

from celery.signals import worker_process_init, worker_process_shutdown

from sandbox import fleet


@worker_process_init.connect
def warm_up_pool(**kwargs) -> None:
    fleet.warm_up()


@worker_process_shutdown.connect
def shut_down_pool(**kwargs) -> None:
    fleet.shutdown()
