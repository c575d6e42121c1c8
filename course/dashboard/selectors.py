"""Reads for the instructor dashboard: who is stuck where, pass rates, common errors."""

from collections import Counter
from dataclasses import dataclass

from django.db.models import Count, Q

from course.models import Exercise
from sandbox.models import Submission


@dataclass(frozen=True)
class ExerciseStats:
    exercise: Exercise
    learners: int  # who made at least one graded submit
    passed: int  # of those, who passed
    submits: int
    tests: int
    system_errors: int
    common_errors: list[tuple[str, int]]

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.learners if self.learners else None

    @property
    def attempts_per_learner(self) -> float | None:
        return self.submits / self.learners if self.learners else None

    @property
    def stuck(self) -> int:
        return self.learners - self.passed


def exercise_stats() -> list[ExerciseStats]:
    stats = []
    for exercise in Exercise.objects.select_related("lesson").filter(lesson__is_published=True):
        subs = Submission.objects.filter(exercise=exercise)
        graded = subs.filter(kind=Submission.Kind.SUBMIT).exclude(status=Submission.Status.SYSTEM_ERROR)
        counts = subs.aggregate(
            tests=Count("pk", filter=Q(kind=Submission.Kind.TEST)),
            system_errors=Count("pk", filter=Q(status=Submission.Status.SYSTEM_ERROR)),
        )
        stats.append(
            ExerciseStats(
                exercise=exercise,
                learners=graded.values("learner").distinct().count(),
                passed=graded.filter(status=Submission.Status.PASSED).values("learner").distinct().count(),
                submits=graded.count(),
                tests=counts["tests"],
                system_errors=counts["system_errors"],
                common_errors=common_errors(exercise=exercise),
            )
        )
    return stats


def error_kind(case: dict) -> str | None:
    """How a case went wrong, in the words an instructor groups by."""
    verdict = case.get("verdict")
    if verdict == "passed":
        return None
    if verdict == "error" and case.get("error"):
        return case["error"].get("errorType") or "error"
    if verdict == "failed":
        return f"failed: {case.get('name')}"
    return verdict


def common_errors(*, exercise: Exercise, limit: int = 5, sample: int = 500) -> list[tuple[str, int]]:
    counter: Counter[str] = Counter()
    recent = Submission.objects.filter(
        exercise=exercise, status__in=[Submission.Status.FAILED, Submission.Status.PASSED]
    ).values_list("results", flat=True)[:sample]
    for results in recent:
        kinds = {kind for case in results if (kind := error_kind(case))}
        counter.update(kinds)
    return counter.most_common(limit)


def stuck_learners(*, exercise: Exercise) -> list[dict]:
    """Learners who submitted but have not passed, most attempts first."""
    rows = (
        Submission.objects.filter(exercise=exercise, kind=Submission.Kind.SUBMIT)
        .exclude(status=Submission.Status.SYSTEM_ERROR)
        .values("learner__id", "learner__username")
        .annotate(
            submits=Count("pk"),
            passes=Count("pk", filter=Q(status=Submission.Status.PASSED)),
        )
        .filter(passes=0)
        .order_by("-submits")
    )
    return list(rows)
