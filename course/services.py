"""Writes for the course app."""

from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from course.content import read_course
from course.markdown import render_markdown
from course.models import Exercise, Lesson, LessonVisit


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unpublished: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.unpublished)


@transaction.atomic
def course_sync(*, content_dir: Path) -> SyncReport:
    """Load every lesson and exercise from files; idempotent. Raises ContentError on bad files,
    before anything is written."""
    sources = read_course(content_dir)
    report = SyncReport()
    for src in sources:
        lesson = Lesson.objects.filter(slug=src.slug).first()
        exercise_hash = src.exercise.source_hash if src.exercise else ""
        current_exercise = Exercise.objects.filter(lesson=lesson).first() if lesson else None
        if (
            lesson
            and lesson.source_hash == src.source_hash
            and lesson.is_published
            and lesson.order == src.order
            and (current_exercise.source_hash if current_exercise else "") == exercise_hash
        ):
            report.unchanged.append(src.slug)
            continue
        (report.updated if lesson else report.created).append(src.slug)
        lesson, _ = Lesson.objects.update_or_create(
            slug=src.slug,
            defaults={
                "title": src.title,
                "order": src.order,
                "summary": src.summary,
                "minutes": src.minutes,
                "body_html": render_markdown(src.body_markdown),
                "source_hash": src.source_hash,
                "is_published": True,
            },
        )
        if src.exercise:
            Exercise.objects.update_or_create(
                lesson=lesson,
                defaults={
                    "slug": src.exercise.slug,
                    "title": src.exercise.title,
                    "starter_code": src.exercise.starter,
                    "definition": src.exercise.definition,
                    "source_hash": src.exercise.source_hash,
                },
            )
        elif current_exercise:
            current_exercise.delete()
    gone = Lesson.objects.filter(is_published=True).exclude(slug__in=[s.slug for s in sources])
    report.unpublished = list(gone.values_list("slug", flat=True))
    gone.update(is_published=False)
    return report


def lesson_visit_record(*, learner, lesson: Lesson) -> None:
    visit, created = LessonVisit.objects.get_or_create(learner=learner, lesson=lesson)
    if not created:
        visit.save(update_fields=["last_visit"])
