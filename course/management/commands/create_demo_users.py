from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from course.roles import INSTRUCTORS, LEARNERS, add_to_group

DEMO_USERS = (
    ("learner", "serverless-learner", LEARNERS),
    ("instructor", "serverless-instructor", INSTRUCTORS),
)


class Command(BaseCommand):
    help = "Create a demo learner and a demo instructor for local use (DEBUG only) and print them."

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("Demo accounts are for local development only (DJANGO_DEBUG is off).")
        User = get_user_model()  # noqa: N806
        for username, password, group in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            if created or not user.check_password(password):
                user.set_password(password)
                user.save()
            add_to_group(user, group)
            self.stdout.write(f"Demo {group[:-1]:<10}  username {username:<11} password {password}")
