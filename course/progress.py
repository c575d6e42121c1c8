"""Selectors for a learner's progress: per lesson not started / read / attempted / passed."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max

from course.models import Lesson, LessonVisit
from sandbox.models import Submission


@dataclass(frozen=True)
class LessonProgress:
    status: str  # not_started | read | attempted | passed
    best_score: int | None
    max_score: int | None
    last_visit: datetime | None

    @property
    def label(self) -> str:
        return {"not_started": "Not started", "read": "Read", "attempted": "Attempted", "passed": "Passed"}[
            self.status
        ]


def course_progress(*, learner, lessons: list[Lesson]) -> dict[int, LessonProgress]:
    if not learner.is_authenticated:
        return {}
    visits = dict(LessonVisit.objects.filter(learner=learner).values_list("lesson_id", "last_visit"))
    graded = (
        Submission.objects.filter(learner=learner, kind=Submission.Kind.SUBMIT)
        .filter(status__in=[Submission.Status.PASSED, Submission.Status.FAILED])
        .values("exercise__lesson_id")
        .annotate(best=Max("score"), max_score=Max("max_score"))
    )
    scores = {row["exercise__lesson_id"]: row for row in graded}
    passed = set(
        Submission.objects.filter(
            learner=learner, kind=Submission.Kind.SUBMIT, status=Submission.Status.PASSED
        ).values_list("exercise__lesson_id", flat=True)
    )
    progress = {}
    for lesson in lessons:
        row = scores.get(lesson.pk)
        if lesson.pk in passed:
            status = "passed"
        elif row:
            status = "attempted"
        elif lesson.pk in visits:
            status = "read"
        else:
            status = "not_started"
        progress[lesson.pk] = LessonProgress(
            status=status,
            best_score=row["best"] if row else None,
            max_score=row["max_score"] if row else None,
            last_visit=visits.get(lesson.pk),
        )
    return progress


def continue_lesson(*, lessons: list[Lesson], progress: dict[int, LessonProgress]) -> Lesson | None:
    """Where to continue: the most recently visited lesson not yet passed, else the first unread one."""
    in_progress = [
        lesson
        for lesson in lessons
        if lesson.pk in progress and progress[lesson.pk].last_visit and progress[lesson.pk].status != "passed"
    ]
    if in_progress:
        return max(in_progress, key=lambda lesson: progress[lesson.pk].last_visit)
    return next(
        (
            lesson
            for lesson in lessons
            if lesson.pk not in progress or progress[lesson.pk].status == "not_started"
        ),
        None,
    )


def has_passed(*, learner, exercise) -> bool:
    return Submission.objects.filter(
        learner=learner, exercise=exercise, kind=Submission.Kind.SUBMIT, status=Submission.Status.PASSED
    ).exists()
