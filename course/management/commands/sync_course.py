from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from course.content import ContentError
from course.services import course_sync


class Command(BaseCommand):
    help = "Load lessons and exercises from course/content into the database (idempotent)."

    def handle(self, *args, **options) -> None:
        try:
            report = course_sync(content_dir=settings.COURSE_CONTENT_DIR)
        except ContentError as exc:
            raise CommandError(str(exc)) from exc
        for label, slugs in (
            ("created", report.created),
            ("updated", report.updated),
            ("unpublished", report.unpublished),
        ):
            for slug in slugs:
                self.stdout.write(f"  {label:<11} {slug}")
        total = len(report.created) + len(report.updated) + len(report.unchanged)
        summary = (
            f"Course synced: {len(report.created)} created, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged, {len(report.unpublished)} unpublished ({total} lessons)."
        )
        self.stdout.write(self.style.SUCCESS(summary) if report.changed else summary)
