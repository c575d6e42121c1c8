"""Run code (Test or Submit) and follow a submission until it is graded."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseStopPolling

from course.models import Exercise
from course.roles import is_instructor
from course.views import exercise_context
from sandbox.models import Submission
from sandbox.services import SubmissionRejected, submission_create, submission_fail_system


@require_POST
@login_required
def run(request, slug: str) -> HttpResponse:
    exercise = get_object_or_404(
        Exercise.objects.select_related("lesson"), slug=slug, lesson__is_published=True
    )
    kind = request.POST.get("kind", Submission.Kind.TEST)
    if kind not in Submission.Kind.values:
        kind = Submission.Kind.TEST
    code = request.POST.get("code", "")
    try:
        submission = submission_create(learner=request.user, exercise=exercise, code=code, kind=kind)
    except SubmissionRejected as exc:
        if not request.htmx:
            messages.error(request, str(exc))
            return redirect(exercise.lesson)
        context = exercise_context(request, exercise) | {"rejection": str(exc), "exercise": exercise}
        return render(request, "course/lesson.html#status", context)
    if not request.htmx:
        return redirect(
            f"{reverse('course:lesson', args=[exercise.lesson.slug])}?submission={submission.pk}#status"
        )
    return _status(request, exercise, submission)


def _status(request, exercise: Exercise, submission: Submission) -> HttpResponse:
    """The status panel. While queued or running it is only a spinner, polled by every waiting
    learner: it renders without the exercise's context (attempts, hints, the sample event),
    which only changes once the submission is final."""
    if submission.is_final:
        context = exercise_context(request, exercise, submission=submission)
    else:
        context = {"submission": submission}
    return render(request, "course/lesson.html#status", context | {"exercise": exercise})


@require_GET
@login_required
@vary_on_headers("HX-Request")
def submission_status(request, pk: int) -> HttpResponse:
    submission = get_object_or_404(Submission.objects.select_related("exercise__lesson"), pk=pk)
    if submission.learner_id != request.user.pk and not is_instructor(request.user):
        raise Http404
    stale_after = settings.SUBMISSION_STALE_AFTER_SECONDS
    if not submission.is_final and (timezone.now() - submission.queued_at).total_seconds() > stale_after:
        submission_fail_system(
            submission_id=submission.pk,
            message="Grading took far too long (a worker was lost or the queue is stuck). "
            "This does not count against you; please submit again.",
        )
        submission.refresh_from_db()
    exercise = submission.exercise
    if not request.htmx:
        return redirect(
            f"{reverse('course:lesson', args=[exercise.lesson.slug])}?submission={submission.pk}#status"
        )
    response = _status(request, exercise, submission)
    if submission.is_final:
        # 286 tells htmx to stop polling; the fragment still replaces the old one.
        stop = HttpResponseStopPolling(response.content)
        stop["Vary"] = "HX-Request"
        return stop
    return response
