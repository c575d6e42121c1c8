"""Course pages: the index, a lesson (with its exercise), sign-up."""

import json

from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from course.models import Lesson
from course.progress import continue_lesson, course_progress, has_passed
from course.roles import LEARNERS, add_to_group, is_instructor
from course.services import lesson_visit_record
from sandbox.attempts import submit_allowance
from sandbox.cases import case_event
from sandbox.models import Submission
from sandbox.presenters import results_for_viewer
from sandbox.variants import variant_seed


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    lessons = list(Lesson.objects.published().select_related("exercise"))
    progress = course_progress(learner=request.user, lessons=lessons)
    rows = [(lesson, progress.get(lesson.pk)) for lesson in lessons]
    return render(
        request,
        "course/index.html",
        {
            "rows": rows,
            "continue_lesson": continue_lesson(lessons=lessons, progress=progress) if progress else None,
        },
    )


@require_GET
def lesson(request: HttpRequest, slug: str) -> HttpResponse:
    lesson = get_object_or_404(Lesson.objects.published(), slug=slug)
    exercise = getattr(lesson, "exercise", None)
    context: dict = {"lesson": lesson, "exercise": exercise}
    lessons = list(Lesson.objects.published().only("slug", "title", "order"))
    position = next(i for i, item in enumerate(lessons) if item.pk == lesson.pk)
    context["previous_lesson"] = lessons[position - 1] if position > 0 else None
    context["next_lesson"] = lessons[position + 1] if position + 1 < len(lessons) else None
    if request.user.is_authenticated:
        lesson_visit_record(learner=request.user, lesson=lesson)
    if exercise:
        context.update(exercise_context(request, exercise))
    return render(request, "course/lesson.html", context)


def exercise_context(request: HttpRequest, exercise, submission: Submission | None = None) -> dict:
    """What the exercise panel shows: the code to edit, the latest result, attempts, hints."""
    user = request.user
    ctx: dict = {
        "code": exercise.starter_code,
        "cases": exercise.definition["cases"],
        "submission": None,
        "results": [],
        "sample_event_json": sample_event_json(exercise, learner=user),
    }
    if not user.is_authenticated:
        return ctx
    mine = Submission.objects.filter(learner=user, exercise=exercise)
    if submission is None:
        requested = request.GET.get("submission", "")
        submission = mine.filter(pk=requested).first() if requested.isdigit() else mine.first()
    passed = has_passed(learner=user, exercise=exercise)
    failures = mine.filter(kind=Submission.Kind.SUBMIT, status=Submission.Status.FAILED).count()
    ctx.update(
        {
            "code": submission.code if submission else exercise.starter_code,
            "submission": submission,
            "results": results_for_viewer(submission, instructor=is_instructor(user), passed=passed)
            if submission
            else [],
            "passed": passed,
            "allowance": submit_allowance(learner=user, exercise=exercise),
            "hints": [h for h in exercise.definition["hints"] if failures >= h["after_failures"]],
            "locked_hints": sum(1 for h in exercise.definition["hints"] if failures < h["after_failures"]),
        }
    )
    return ctx


def sample_event_json(exercise, *, learner) -> str:
    """The event Test sends, in this learner's variant (like the Lambda console's test event)."""
    seed = variant_seed(learner_id=learner.pk, exercise_slug=exercise.slug) if learner.is_authenticated else 0
    for index, spec in enumerate(exercise.definition["cases"]):
        if spec["sample"] and spec["visibility"] == "visible":
            return json.dumps(case_event(spec, index=index, seed=seed), indent=2, ensure_ascii=False)
    return ""


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        add_to_group(user, LEARNERS)
        login(request, user)
        return redirect("course:index")
    return render(request, "registration/signup.html", {"form": form})
