"""The curriculum (loaded from files by `manage.py sync_course`) and learner progress."""

from django.conf import settings
from django.db import models


class LessonQuerySet(models.QuerySet["Lesson"]):
    def published(self) -> "LessonQuerySet":
        return self.filter(is_published=True).order_by("order")


class Lesson(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    order = models.PositiveIntegerField()
    summary = models.CharField(max_length=500, blank=True)
    minutes = models.PositiveIntegerField(default=10)
    body_html = models.TextField(help_text="Rendered and sanitized from lesson.md.")
    source_hash = models.CharField(max_length=64)
    # A lesson whose folder disappeared is unpublished, not deleted: submissions point at it.
    is_published = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LessonQuerySet.as_manager()

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("course:lesson", args=[self.slug])


class Exercise(models.Model):
    """The learner-visible part of an exercise. Checks and the solution stay in files,
    read only by the trusted worker."""

    lesson = models.OneToOneField(Lesson, on_delete=models.CASCADE, related_name="exercise")
    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    starter_code = models.TextField()
    # The validated exercise.yaml as loaded (cases, limits, hints); see docs/authoring.md.
    definition = models.JSONField()
    source_hash = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["lesson__order"]

    def __str__(self) -> str:
        return self.title


class LessonVisit(models.Model):
    """The learner opened the lesson: 'read' progress and 'continue where you left off'."""

    learner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="visits")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="visits")
    first_visit = models.DateTimeField(auto_now_add=True)
    last_visit = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["learner", "lesson"], name="one_visit_row_per_lesson")]

    def __str__(self) -> str:
        return f"{self.learner} read {self.lesson}"
