"""Seedable factories for the events Lambda receives from S3, ALB and SQS.

Standard library only: no Django, so trusted code anywhere (the worker, checks, the
`generate_event` command) can import it. The same seed always gives the same event; other
seeds vary names and values, never the shape. Exercise files name factories by the keys of
`FACTORIES` and call them through `build_event`.
"""

import difflib
import inspect
from collections.abc import Callable
from typing import Any

from sandbox.events import alb, s3, sqs

Factory = Callable[..., dict[str, Any]]

FACTORIES: dict[str, Factory] = {
    "s3.object_created": s3.object_created,
    "s3.object_removed": s3.object_removed,
    "alb.request": alb.request,
    "alb.health_check": alb.health_check,
    "sqs.batch": sqs.batch,
}


def build_event(name: str, *, seed: int, **params: Any) -> dict[str, Any]:
    """Build the event `name` (a key of FACTORIES) for `seed`, with `params` overriding choices.

    Raises ValueError, with a message meant for the exercise author, for an unknown factory
    name, a parameter the factory does not take, or a bad parameter value.
    """
    factory = FACTORIES.get(name)
    if factory is None:
        close = difflib.get_close_matches(str(name), FACTORIES, n=1)
        suggestion = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Unknown event factory {name!r}.{suggestion} Known: {', '.join(sorted(FACTORIES))}."
        )
    accepted = [p for p in inspect.signature(factory).parameters if p != "seed"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"{name} does not take {', '.join(map(repr, unknown))}; its parameters are {', '.join(accepted)}."
        )
    try:
        return factory(seed=seed, **params)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc


__all__ = ["FACTORIES", "build_event", "alb", "s3", "sqs"]
