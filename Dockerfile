# nextswipe service image: the serving dependencies only (no torch), non-root, bundle mounted at run time.
#   docker build -t nextswipe .
#   docker run -p 8000:8000 -v $PWD/bundles/demo:/bundle:ro -e NEXTSWIPE_REDIS_URL=redis://redis:6379/0 nextswipe
# The learner (torch, a separate image; the same Redis, the bundles directory shared read-write):
#   docker build --target learner -t nextswipe-learn .
#   docker run -v $PWD/bundles:/bundles -v $PWD/build:/src/build -e NEXTSWIPE_REDIS_URL=redis://redis:6379/0 \
#     nextswipe-learn --link /bundles/live --base /bundles/demo --checkpoint build/checkpoints/demo.pt
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /venv
COPY requirements/serve.lock ./
RUN /venv/bin/pip install --no-deps -r serve.lock
COPY pyproject.toml README.md ./
COPY app ./app
RUN /venv/bin/pip install --no-deps .

FROM python:3.11-slim-bookworm AS learner
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
RUN useradd --create-home --uid 10001 nextswipe
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY models ./models
COPY learn ./learn
# versions come from pyproject.toml's pins (torch==2.13.0, the CPU build)
# hadolint ignore=DL3013
RUN pip install --no-cache-dir '.[serve,train]' && chown nextswipe /src
USER 10001:10001
EXPOSE 9101
ENTRYPOINT ["python", "-m", "learn.run"]

FROM python:3.11-slim-bookworm
RUN useradd --create-home --uid 10001 nextswipe
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    NEXTSWIPE_BUNDLE=/bundle \
    HOST=0.0.0.0 \
    PORT=8000 \
    WORKERS=1
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=2s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=2)"]
CMD ["sh", "-c", "exec uvicorn app.main:create_app --factory --host \"$HOST\" --port \"$PORT\" --workers \"$WORKERS\" --loop uvloop --http httptools --no-access-log"]
