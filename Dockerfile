# syntax=docker/dockerfile:1
# The production image: one image for the web server, the Celery worker and beat
# (docker-compose.yml picks the command). See docs/deployment.md.

ARG PYTHON_VERSION=3.11
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

# --- build: the locked environment, without dev tools -------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first: this layer is rebuilt only when the lock file changes.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project

# --- runtime ---------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm
# WeasyPrint (letter PDFs) needs Pango and HarfBuzz's subsetter, and fonts to embed.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --create-home --uid 10001 app \
    && mkdir -p /data && chown app:app /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Code owned by root: the app user can read it, not change it.
COPY . .
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    APP_ENV=production \
    VAR_DIR=/data \
    STATIC_ROOT=/app/staticfiles
# Static files are part of the image: hashed names and gzip/brotli copies made once here
# (compressing the API docs' assets takes minutes on a small machine; not at every start).
# Production settings insist on a secret, a database and a broker; collectstatic uses none
# of them, so throwaway values stand in for the build only.
RUN SECRET_KEY=build-only-not-a-secret-build-only-not-a-secret \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    CELERY_BROKER_URL=memory:// \
    VAR_DIR=/tmp/build-var \
    python manage.py collectstatic --noinput \
    && rm -rf /tmp/build-var
USER app
# /data: private uploads and letter PDFs (unless object storage is configured) and beat's
# schedule. Shared by web and worker on one host.
VOLUME ["/data"]
EXPOSE 8000
# The web command; the worker and beat services override it.
CMD ["gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py", "--bind", "0.0.0.0:8000", "--timeout", "60"]
