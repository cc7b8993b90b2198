# The Accord image: `accord worker` by default; the compose file also runs `accord db
# migrate` and `accord codec-server` from it. Dependencies come from uv.lock only
# (`--locked`). No key or token is built in: `.dockerignore` leaves `deploy/` (where
# deploy/init-secrets.sh writes them) out of the context; compose mounts them as secrets.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    PATH=/app/.venv/bin:$PATH

# The same uv as the Makefile's.
RUN pip install --no-cache-dir uv==0.13.9

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project

# The packages (every folder .dockerignore lets through), then the project itself.
COPY . ./
RUN uv sync --locked --no-dev

# Never root: the worker needs no privilege, and the embedded PostgreSQL (unused here:
# DATABASE_URL is required in the image) would refuse root anyway.
RUN useradd --system --uid 10001 --home-dir /app accord
USER accord

# SIGTERM lets in-flight activities finish (graceful_shutdown_timeout 10 s).
STOPSIGNAL SIGTERM
CMD ["accord", "worker"]
