# One image for web and worker (docker-compose.yml picks the command).
FROM python:3.13-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# bubblewrap: the jail the worker runs learner code in. util-linux: setpriv (drops to an unprivileged uid).
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap util-linux \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock .
RUN python -m venv /app/.venv && /app/.venv/bin/pip install -r requirements.lock
ENV PATH="/app/.venv/bin:$PATH"
COPY . .
RUN DJANGO_DEBUG=0 DJANGO_SECRET_KEY=build-only python manage.py collectstatic --no-input
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
