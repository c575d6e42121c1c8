"""How many graded submits a learner has left: a token bucket per learner and exercise.

Derived from the submissions themselves (no counters to drift): every counted submit takes
a token; tokens refill one per `refill_minutes` up to `submits`. Tests are free but limited
to one pending at a time and TEST_LIMIT per TEST_WINDOW. System errors never cost anything.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from sandbox.models import Submission

TEST_LIMIT = 60
TEST_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class Allowance:
    remaining: int
    capacity: int
    next_refill_at: datetime | None  # None when full


def submit_allowance(*, learner, exercise, now: datetime | None = None) -> Allowance:
    now = now or timezone.now()
    capacity = int(exercise.definition["attempts"]["submits"])
    refill = timedelta(minutes=float(exercise.definition["attempts"]["refill_minutes"]))
    spent = (
        Submission.objects.filter(learner=learner, exercise=exercise, kind=Submission.Kind.SUBMIT)
        .exclude(status=Submission.Status.SYSTEM_ERROR)
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )
    tokens = float(capacity)
    last = None
    for at in spent:
        if last is not None and refill:
            tokens = min(capacity, tokens + (at - last) / refill)
        elif last is not None:
            tokens = capacity
        tokens -= 1
        last = at
    if last is not None:
        tokens = min(capacity, tokens + ((now - last) / refill if refill else capacity))
    remaining = max(0, int(tokens))
    next_refill_at = None
    if remaining < capacity and refill:
        next_refill_at = (
            now + refill * (1 - (tokens - int(tokens))) if tokens >= 0 else now + refill * -tokens
        )
    return Allowance(remaining=remaining, capacity=capacity, next_refill_at=next_refill_at)


def test_allowed(*, learner, exercise, now: datetime | None = None) -> tuple[bool, str]:
    now = now or timezone.now()
    tests = Submission.objects.filter(learner=learner, exercise=exercise, kind=Submission.Kind.TEST)
    if tests.filter(status__in=[Submission.Status.QUEUED, Submission.Status.RUNNING]).exists():
        return False, "A test run is still in progress; wait for its result."
    if tests.filter(created_at__gte=now - TEST_WINDOW).count() >= TEST_LIMIT:
        return (
            False,
            f"That's {TEST_LIMIT} test runs in {TEST_WINDOW.seconds // 60} minutes; take a breath and read the last result.",
        )
    return True, ""
