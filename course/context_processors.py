from django.conf import settings

from course.roles import is_instructor


def site(request) -> dict:
    return {
        "is_instructor": is_instructor(request.user),
        "sandbox_unisolated": settings.SANDBOX_ALLOW_UNISOLATED,
    }
