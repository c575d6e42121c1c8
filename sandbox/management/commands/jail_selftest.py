from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sandbox.jail.selftest import JailUnavailable, choose_launcher


class Command(BaseCommand):
    help = "Prove that the jail works here (network blocked, read-only system, limits) and print the level."

    def handle(self, *args, **options) -> None:
        try:
            launcher, report = choose_launcher(allow_unisolated=settings.SANDBOX_ALLOW_UNISOLATED)
        except JailUnavailable as exc:
            raise CommandError(str(exc)) from exc
        for check in report.checks:
            mark = "ok  " if check.passed else "FAIL"
            self.stdout.write(f"  {mark} {check.name}{': ' + check.detail if check.detail else ''}")
        self.stdout.write(f"Isolation: {report.isolation}")
        if not launcher.isolated:
            raise CommandError("Learner code would run without namespace isolation.")
