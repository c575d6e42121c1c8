from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Sandbox"

    def ready(self) -> None:
        from sandbox import signals  # noqa: F401 - connects the Celery worker signals
