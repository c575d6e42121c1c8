"""The instructor's pages: overview, submissions, one submission, a learner's variant, CSV."""

import csv
import json

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import user_passes_test
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from course.dashboard import fleet
from course.dashboard.selectors import exercise_stats, stuck_learners
from course.models import Exercise
from course.roles import is_instructor
from sandbox.cases import build_cases
from sandbox.exercise_files import ExerciseNotFound, checks_module, exercise_source
from sandbox.models import Submission
from sandbox.presenters import results_for_viewer
from sandbox.services import submissions_regrade
from sandbox.variants import variant_seed

instructor_required = user_passes_test(is_instructor)


@require_GET
@instructor_required
def overview(request: HttpRequest) -> HttpResponse:
    stats = exercise_stats()
    stuck = [(s, stuck_learners(exercise=s.exercise)[:10]) for s in stats]
    return render(request, "dashboard/overview.html", {"stats": stats, "stuck": stuck})


@require_GET
@instructor_required
def fleet_health(request: HttpRequest) -> HttpResponse:
    """Loaded into the overview by htmx (a Celery ping can take a second); a page of its own without JS."""
    context = {
        "queues": fleet.queue_depths(),
        "workers": fleet.workers(),
        "latency": fleet.latency(),
        "stuck": fleet.stuck_count(),
        "isolation": fleet.recent_isolation(),
        "pools": fleet.warm_pools(),
    }
    template = "dashboard/fleet.html#fleet" if request.htmx else "dashboard/fleet.html"
    return render(request, template, context)


@require_GET
@instructor_required
def submissions(request: HttpRequest) -> HttpResponse:
    qs = Submission.objects.select_related("learner", "exercise").order_by("-created_at")
    if exercise := request.GET.get("exercise"):
        qs = qs.filter(exercise__slug=exercise)
    if learner := request.GET.get("learner"):
        qs = qs.filter(learner__username=learner)
    if status := request.GET.get("status"):
        qs = qs.filter(status=status)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "dashboard/submissions.html",
        {
            "page": page,
            "exercises": Exercise.objects.all(),
            "statuses": Submission.Status.choices,
            "filters": request.GET,
        },
    )


@require_GET
@instructor_required
def submission_detail(request: HttpRequest, pk: int) -> HttpResponse:
    submission = get_object_or_404(Submission.objects.select_related("learner", "exercise__lesson"), pk=pk)
    results = results_for_viewer(submission, instructor=True, passed=True)
    return render(request, "dashboard/submission.html", {"submission": submission, "results": results})


@require_POST
@instructor_required
def regrade(request: HttpRequest) -> HttpResponse:
    """Regrade after fixing an exercise: one submission, or every graded submit of an exercise."""
    ids = request.POST.getlist("submission")
    if exercise := request.POST.get("exercise"):
        ids = list(
            Submission.objects.filter(exercise__slug=exercise, kind=Submission.Kind.SUBMIT).values_list(
                "pk", flat=True
            )
        )
    count = submissions_regrade(submission_ids=[int(i) for i in ids if str(i).isdigit()])
    messages.success(request, f"Queued {count} submission{'s' if count != 1 else ''} for regrading.")
    return redirect(request.POST.get("next") or "dashboard:overview")


@require_GET
@instructor_required
def variant(request: HttpRequest, learner_id: int, slug: str) -> HttpResponse:
    """The events one learner's variant of an exercise uses."""
    learner = get_object_or_404(get_user_model(), pk=learner_id)
    exercise = get_object_or_404(Exercise, slug=slug)
    try:
        source = exercise_source(slug)
    except ExerciseNotFound as exc:
        raise Http404(str(exc)) from exc
    seed = variant_seed(learner_id=learner.pk, exercise_slug=slug)
    cases = build_cases(source.definition, seed=seed, checks=checks_module(source))
    shown = [(case, json.dumps(case.event, indent=2, ensure_ascii=False)) for case in cases]
    return render(
        request,
        "dashboard/variant.html",
        {"learner": learner, "exercise": exercise, "cases": shown, "seed": seed},
    )


@require_GET
@instructor_required
def export_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="coldstart-submissions.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "id",
            "created_at",
            "learner",
            "exercise",
            "kind",
            "status",
            "score",
            "max_score",
            "cases_passed",
            "cases",
            "duration_ms",
        ]
    )
    qs = Submission.objects.select_related("learner", "exercise").order_by("created_at")
    for s in qs.iterator(chunk_size=500):
        writer.writerow(
            [
                s.pk, s.created_at.isoformat(), s.learner.get_username(), s.exercise.slug, s.kind, s.status,
                s.score, s.max_score, sum(1 for c in s.results if c.get("verdict") == "passed"), len(s.results),
                s.duration_ms if s.duration_ms is not None else "",
            ]
        )  # fmt: skip
    return response
