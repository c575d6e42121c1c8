"""docker-compose.yml cannot run here (no Docker engine), so check what can be checked: it parses
and wires the stack as docs/security.md and the README describe."""

from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def test_compose_file_describes_the_stack():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert set(services) == {"web", "worker", "redis", "postgres"}
    web, worker = services["web"], services["worker"]
    assert web["image"] == worker["image"]  # one image for web and worker
    for app in (web, worker):
        assert app["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
        assert app["init"] is True
    assert "healthcheck" in services["redis"] and "healthcheck" in services["postgres"]
    assert "gunicorn" in web["command"] and "celery" in worker["command"]
    # Only the worker gets what the jail needs; the web never runs learner code.
    assert "security_opt" in worker and "security_opt" not in web and "cap_add" not in web
    # The worker's stop grace period exceeds the hard grading time limit (150 s).
    assert int(worker["stop_grace_period"].rstrip("s")) > 150
