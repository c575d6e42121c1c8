"""Learner and instructor roles are Django groups."""

from django.contrib.auth.models import Group

LEARNERS = "learners"
INSTRUCTORS = "instructors"


def is_instructor(user) -> bool:
    return user.is_authenticated and (user.is_superuser or user.groups.filter(name=INSTRUCTORS).exists())


def add_to_group(user, name: str) -> None:
    group, _ = Group.objects.get_or_create(name=name)
    user.groups.add(group)
