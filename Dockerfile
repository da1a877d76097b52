# syntax=docker/dockerfile:1
# One image recipe for every Pledge component, chosen with three build arguments. Build from the repository
# root (the context is the whole uv workspace):
#   docker build --build-arg SERVICE=services/tracking-svc --build-arg PACKAGE=tracking-svc \
#     --build-arg APP=tracking_svc.main:create_app -t pledge/tracking-svc:dev .
#   SERVICE  the component's workspace directory   services/<name>-svc, gateway, console
#   PACKAGE  its uv project name                   <name>-svc, pledge-gateway, pledge-console
#   APP      its ASGI application factory          <package>.main:create_app
# (`make images` builds the six; deploy/compose.yaml passes the same arguments.) Runs as uid 10001 on a
# read-only root filesystem (only /tmp needs to be writable); the same image runs the component's
# migrations: alembic -c $SERVICE/alembic.ini upgrade head
ARG PYTHON_IMAGE=python:3.11-slim
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9
ARG SERVICE
ARG PACKAGE
ARG APP

FROM ${UV_IMAGE} AS uv

# ---- builder: resolve and install into /app/.venv with uv (uv never reaches the final image) ----
FROM ${PYTHON_IMAGE} AS builder
ARG SERVICE
ARG PACKAGE
ARG APP
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# fails here unless built with the three --build-arg (see the top of this file)
RUN test -n "${SERVICE}" && test -n "${PACKAGE}" && test -n "${APP}"

# 1. third-party dependencies only: this layer is rebuilt only when uv.lock or a pyproject.toml changes.
#    uv reads the whole workspace, so every member's pyproject.toml is copied (deploy/tests checks the list).
COPY pyproject.toml uv.lock ./
COPY libs/pledge-common/pyproject.toml libs/pledge-common/
COPY libs/pledge-deadlines/pyproject.toml libs/pledge-deadlines/
COPY libs/pledge-dev/pyproject.toml libs/pledge-dev/
COPY libs/pledge-client/pyproject.toml libs/pledge-client/
COPY services/commitment-svc/pyproject.toml services/commitment-svc/
COPY services/tracking-svc/pyproject.toml services/tracking-svc/
COPY services/evaluation-svc/pyproject.toml services/evaluation-svc/
COPY services/feedback-svc/pyproject.toml services/feedback-svc/
COPY gateway/pyproject.toml gateway/
COPY console/pyproject.toml console/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package ${PACKAGE} --no-install-workspace

# 2. the workspace packages. They are installed in place (editable: a .pth file points at /app/.../src),
#    so that `Path(main.__file__).parents[2] / "alembic.ini"` finds the component's alembic.ini and migrations;
#    the final stage keeps the same paths. pledge-dev is excluded by .dockerignore (only its pyproject.toml).
COPY libs/ libs/
COPY ${SERVICE}/ ${SERVICE}/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package ${PACKAGE} \
    && python -m compileall -q --invalidation-mode unchecked-hash libs ${SERVICE}

# ---- runtime: slim Python, the venv and the sources, nothing else ----
FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
ARG PACKAGE
ARG APP
LABEL org.opencontainers.image.title="${PACKAGE}" \
      org.opencontainers.image.description="Pledge ${PACKAGE}"
RUN groupadd --system --gid 10001 pledge \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin pledge
# UVICORN_APP is uvicorn's APP argument: the CMD below stays in exec form and the same for every component
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UVICORN_APP=${APP}
WORKDIR /app
COPY --from=builder /app/.venv /app/.venv
COPY --from=builder /app/libs /app/libs
COPY --from=builder /app/${SERVICE} /app/${SERVICE}
USER 10001:10001
EXPOSE 8000
# SIGTERM: uvicorn stops accepting, finishes in-flight requests for at most 20 s, then runs the lifespan
# shutdown (consumers release their leases). Kubernetes waits terminationGracePeriodSeconds: 30.
STOPSIGNAL SIGTERM
CMD ["uvicorn", "--factory", "--host", "0.0.0.0", "--port", "8000", "--no-access-log", "--timeout-graceful-shutdown", "20"]
