import functools

from django.conf import settings

from course.roles import is_instructor


def site(request) -> dict:
    return {
        # A callable: templates call it when they ask (a query), fragments that don't never pay.
        "is_instructor": functools.partial(is_instructor, request.user),
        "sandbox_unisolated": settings.SANDBOX_ALLOW_UNISOLATED,
    }
