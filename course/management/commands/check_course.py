from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from course.checker import check_course


class Command(BaseCommand):
    help = (
        "Prove that every exercise is sound: files valid, events valid, the solution passes every case "
        "and the starter fails one (run in the jail, under two seeds). Exits non-zero on any problem."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slugs", nargs="*", metavar="SLUG", help="only these lessons (default: all)")
        parser.add_argument(
            "--seed",
            type=int,
            action="append",
            default=[],
            dest="seeds",
            help="also build and run the cases with this variant seed (repeatable)",
        )
        parser.add_argument(
            "--no-run",
            action="store_true",
            help="only the checks that run no code in the jail (files, events)",
        )

    def handle(self, *args, slugs: list[str], seeds: list[int], no_run: bool, **options) -> None:
        content_dir = settings.COURSE_CONTENT_DIR
        problems = total = 0
        try:
            for report in check_course(content_dir, slugs=slugs, extra_seeds=seeds, run_code=not no_run):
                total += 1
                problems += not report.ok
                style = self.style.SUCCESS if report.ok else self.style.ERROR
                self.stdout.write(style(report.line()))
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        if problems:
            raise CommandError(f"{problems} of {total} exercise{'s' if total != 1 else ''} failed the check.")
        self.stdout.write(f"{total} exercise{'s' if total != 1 else ''} checked, no problems.")
