"""Submissions and their graded results (the result format is documented in docs/results.md)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from sandbox.polling import poll_delay_ms


class Submission(models.Model):
    class Kind(models.TextChoices):
        TEST = "test", "Test"  # runs the sample case; not graded, not counted
        SUBMIT = "submit", "Submit"  # runs every case; graded

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"
        # The platform's fault (worker lost, jail broken, stale): never counted against the learner.
        SYSTEM_ERROR = "system_error", "System error"

    FINAL_STATUSES = (Status.PASSED, Status.FAILED, Status.SYSTEM_ERROR)

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions"
    )
    exercise = models.ForeignKey("course.Exercise", on_delete=models.CASCADE, related_name="submissions")
    code = models.TextField()
    code_sha256 = models.CharField(max_length=64)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    score = models.PositiveIntegerField(default=0)
    max_score = models.PositiveIntegerField(default=0)
    # One dict per case, in order: see docs/results.md.
    results = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True, help_text="A summary for the learner.")
    # The variant (events seeded per learner and exercise) this submission was graded against.
    variant_seed = models.BigIntegerField()
    isolation = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker started grading it.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # When it last entered the queue (creation or regrade): how staleness is measured.
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["learner", "exercise", "-created_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} by {self.learner} on {self.exercise}: {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES

    @property
    def poll_delay_ms(self) -> int:
        """How long the waiting page waits before it asks about this submission again."""
        return poll_delay_ms((timezone.now() - self.queued_at).total_seconds() * 1000)

    @property
    def counts(self) -> bool:
        """Whether this submission uses one of the learner's graded attempts."""
        return self.kind == self.Kind.SUBMIT and self.status in (self.Status.PASSED, self.Status.FAILED)

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.finished_at:
            return int((self.finished_at - self.started_at).total_seconds() * 1000)
        return None
