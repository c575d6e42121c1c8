"""Trusted checks for the pricing exercise. Runs in the worker, never in the jail.

The expected bill is computed here from the event with lesson 10's formula (us-east-1, first
tier). Each check also computes the classic wrong answers, so that a learner who made one of
them is told which.
"""

import math

from sandbox.checks import CheckContext, CheckFailed, expect_dict, show

KEYS = ["gbSeconds", "requestCost", "durationCost", "totalCost"]
REQUEST_PRICE = 0.20 / 1_000_000
GB_SECOND_PRICE = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
FREE_REQUESTS = 1_000_000
FREE_GB_SECONDS = 400_000
CENT = 0.011  # rounding each part and the total to cents may move the total by a cent


def gb_seconds(event: dict, *, mb_per_gb: int = 1024, ms_per_s: int = 1000) -> float:
    return event["requestsPerMonth"] * (event["memoryMb"] / mb_per_gb) * (event["avgBilledMs"] / ms_per_s)


def request_cost(event: dict, *, free_tier: bool | None = None) -> float:
    free = event["freeTier"] if free_tier is None else free_tier
    return max(0, event["requestsPerMonth"] - (FREE_REQUESTS if free else 0)) * REQUEST_PRICE


def duration_cost(event: dict, *, free_tier: bool | None = None, architecture: str | None = None) -> float:
    free = event["freeTier"] if free_tier is None else free_tier
    rate = GB_SECOND_PRICE[architecture or event["architecture"]]
    return max(0, gb_seconds(event) - (FREE_GB_SECONDS if free else 0)) * rate


def _number(ctx: CheckContext, key: str) -> float:
    value = ctx.result[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CheckFailed(
            f"{key} is {show(value)}; expected a number.",
            got=value,
            hint="Return plain numbers (int or float), not strings such as '$1.80'.",
        )
    return value


def _dollars(ctx: CheckContext, key: str, expected: float, mistakes: dict[str, float], *, how: str) -> None:
    """A cost in dollars, rounded to cents, within a cent of `expected`; else say which mistake it is."""
    got = _number(ctx, key)
    if abs(got - expected) <= CENT:
        if abs(got * 100 - round(got * 100)) > 1e-6:
            raise CheckFailed(
                f"{key} is {got!r}; the right amount, but the exercise asks for dollars rounded to cents.",
                expected=round(expected, 2),
                got=got,
                hint="Round each cost to cents with round(value, 2).",
            )
        return
    if got < 0:
        hint = "A bill is never negative: after the free tier, take max(0, ...)."
    else:
        hint = next((text for text, wrong in mistakes.items() if abs(got - wrong) <= CENT), how)
    raise CheckFailed(
        f"{key} is {show(got)}; expected ${expected:,.2f}.", expected=round(expected, 2), got=got, hint=hint
    )


def returns_an_estimate(ctx: CheckContext) -> None:
    """The handler returns an object with gbSeconds and the three costs."""
    expect_dict(ctx.result, what="The return value", keys=KEYS, hint="Return a dict with " + ", ".join(KEYS) + ".")


def counts_gb_seconds(ctx: CheckContext) -> None:
    """gbSeconds = requests × memory in GB (MB / 1024) × billed seconds (ms / 1000)."""
    event = ctx.event
    expected = gb_seconds(event)
    got = _number(ctx, "gbSeconds")
    if math.isclose(got, expected, rel_tol=1e-9, abs_tol=0.01):
        return
    hint = "gbSeconds = requestsPerMonth × (memoryMb / 1024) × (avgBilledMs / 1000)."
    wrong = {
        "A GB is 1,024 MB here: divide memoryMb by 1024, not 1000.": gb_seconds(event, mb_per_gb=1000),
        "avgBilledMs is in milliseconds: divide by 1000 for seconds.": gb_seconds(event, ms_per_s=1),
        "Convert both: memoryMb / 1024 gives GB and avgBilledMs / 1000 gives seconds.": gb_seconds(
            event, mb_per_gb=1, ms_per_s=1
        ),
        "gbSeconds is the usage before the free tier; subtract the free 400,000 only when pricing it.": max(
            0, expected - FREE_GB_SECONDS
        ),
    }
    hint = next((text for text, value in wrong.items() if math.isclose(got, value, rel_tol=1e-9)), hint)
    raise CheckFailed(f"gbSeconds is {show(got)}; expected {expected:,}.", expected=expected, got=got, hint=hint)


def prices_requests(ctx: CheckContext) -> None:
    """requestCost: $0.20 per million requests, after the free 1,000,000 when freeTier is true."""
    event = ctx.event
    free = event["freeTier"]
    _dollars(
        ctx,
        "requestCost",
        request_cost(event),
        {
            (
                "The free tier's first 1,000,000 requests each month cost nothing: subtract them first."
                if free
                else "freeTier is false: every request is paid, none is free."
            ): request_cost(event, free_tier=not free),
            "$0.20 is per million requests: multiply by 0.20 / 1,000,000.": request_cost(event) * 1_000_000,
        },
        how="requestCost = max(0, requests − free requests) × 0.20 / 1,000,000.",
    )


def prices_duration(ctx: CheckContext) -> None:
    """durationCost: GB-seconds past the free 400,000 (with freeTier) at the architecture's rate."""
    event = ctx.event
    other = "x86_64" if event["architecture"] == "arm64" else "arm64"
    _dollars(
        ctx,
        "durationCost",
        duration_cost(event),
        {
            f"This function runs on {event['architecture']}: use its rate, "
            f"${GB_SECOND_PRICE[event['architecture']]:.10f} per GB-second.": duration_cost(event, architecture=other),
            (
                "freeTier is false: every GB-second is paid."
                if not event["freeTier"]
                else "Subtract the free 400,000 GB-seconds before applying the rate."
            ): duration_cost(event, free_tier=not event["freeTier"]),
        },
        how="durationCost = max(0, GB-seconds − free GB-seconds) × the architecture's rate.",
    )


def adds_up(ctx: CheckContext) -> None:
    """totalCost is requestCost + durationCost."""
    event = ctx.event
    parts = _number(ctx, "requestCost") + _number(ctx, "durationCost")
    _dollars(
        ctx,
        "totalCost",
        request_cost(event) + duration_cost(event),
        {},
        how=f"totalCost is requestCost + durationCost ({parts:.2f} here), rounded to cents.",
    )
