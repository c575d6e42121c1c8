import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from course.content import ContentError, read_course
from course.models import Exercise, Lesson
from course.services import course_sync
from course.tests.factories import write_exercise, write_lesson

EXERCISE_YAML = """
title: Echo
trigger: direct
cases:
  - name: echoes
    event: {literal: {"x": 1}}
    checks: [echoes]
"""


def test_reads_front_matter_and_orders_lessons(tmp_path):
    write_lesson(tmp_path, "02-second", title="Second")
    write_lesson(tmp_path, "01-first", title="First", body="## Hello\n\nText.")
    lessons = read_course(tmp_path)
    assert [(lesson.slug, lesson.order, lesson.title) for lesson in lessons] == [
        ("first", 1, "First"),
        ("second", 2, "Second"),
    ]
    assert lessons[0].exercise is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("no front matter", "must start with YAML front matter"),
        ("---\norder: 1\n---\nbody", "front matter needs a 'title'"),
        ("---\ntitle: [unclosed\n---\nbody", "front matter is not valid YAML"),
    ],
)
def test_bad_lesson_files_name_the_file_and_the_problem(tmp_path, content, message):
    folder = tmp_path / "01-broken"
    folder.mkdir()
    (folder / "lesson.md").write_text(content)
    with pytest.raises(ContentError) as exc:
        read_course(tmp_path)
    assert message in str(exc.value)
    assert "01-broken/lesson.md" in str(exc.value)


def test_exercise_schema_errors_say_where(tmp_path):
    lesson = write_lesson(tmp_path, "01-one", title="One")
    write_exercise(
        lesson,
        yaml_text=EXERCISE_YAML.replace("trigger: direct", "trigger: kafka"),
        starter="",
        solution="",
        checks="",
    )
    with pytest.raises(ContentError) as exc:
        read_course(tmp_path)
    assert "exercise.yaml: at trigger" in str(exc.value)


@pytest.mark.django_db
def test_sync_is_idempotent_and_reports_changes(tmp_path):
    lesson = write_lesson(
        tmp_path, "01-one", title="One", body="```python\nprint('hi')\n```\n<script>x</script>"
    )
    write_exercise(
        lesson, yaml_text=EXERCISE_YAML, starter="def lambda_handler(e, c): ...\n", solution="", checks=""
    )
    first = course_sync(content_dir=tmp_path)
    assert first.created == ["one"]
    again = course_sync(content_dir=tmp_path)
    assert again.unchanged == ["one"] and not again.changed
    (lesson / "lesson.md").write_text("---\ntitle: One, revised\n---\nNew text.\n")
    third = course_sync(content_dir=tmp_path)
    assert third.updated == ["one"]
    stored = Lesson.objects.get(slug="one")
    assert stored.title == "One, revised"
    exercise = Exercise.objects.get(slug="one")
    assert exercise.definition["cases"][0]["sample"] is True  # defaults are filled in
    assert exercise.definition["timeout"] == 3


@pytest.mark.django_db
def test_rendering_highlights_code_and_escapes_html(tmp_path):
    write_lesson(
        tmp_path, "01-one", title="One", body="```python\nprint('hi')\n```\n\n<script>alert(1)</script>"
    )
    course_sync(content_dir=tmp_path)
    html = Lesson.objects.get(slug="one").body_html
    assert '<span class="nb">print</span>' in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.django_db
def test_removed_lesson_is_unpublished_not_deleted(tmp_path):
    write_lesson(tmp_path, "01-one", title="One")
    write_lesson(tmp_path, "02-two", title="Two")
    course_sync(content_dir=tmp_path)
    (tmp_path / "02-two" / "lesson.md").unlink()
    (tmp_path / "02-two").rmdir()
    report = course_sync(content_dir=tmp_path)
    assert report.unpublished == ["two"]
    assert list(Lesson.objects.published().values_list("slug", flat=True)) == ["one"]


@pytest.mark.django_db
def test_the_real_course_syncs(capsys):
    call_command("sync_course")
    out = capsys.readouterr().out
    assert "Course synced:" in out
    assert Lesson.objects.published().count() >= 10
    assert Exercise.objects.filter(slug="s3-to-lambda").exists()


@pytest.mark.django_db
def test_sync_command_fails_clearly_on_bad_content(tmp_path, settings):
    (tmp_path / "1-bad").mkdir()
    settings.COURSE_CONTENT_DIR = tmp_path
    with pytest.raises(CommandError, match="lesson folders are named NN-slug"):
        call_command("sync_course")
