# syntax=docker/dockerfile:1
# The statecast image: the operator and the node agent are the same package
# (`statecast operator`, `statecast agent`). Built by `make image`.
#
# Its dependencies come from requirements.lock, every version pinned and every file
# checked against its sha256 (`make lock` regenerates it from pyproject.toml with uv);
# statecast itself is built into a wheel in the first stage, so the final image holds
# no build tools. Pin the base image by digest in your own registry:
#   docker build --build-arg PYTHON_IMAGE=registry.example/python@sha256:... .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes --no-deps -r /tmp/requirements.lock && rm /tmp/requirements.lock
COPY --from=wheel /wheels /tmp/wheels
RUN pip install --no-deps /tmp/wheels/*.whl && rm -rf /tmp/wheels
# Not root; the chart runs it with a read-only root filesystem and no capabilities.
USER 65532:65532
ENTRYPOINT ["statecast"]
CMD ["--help"]
LABEL org.opencontainers.image.title="statecast" \
      org.opencontainers.image.description="Predictive state replication for Kubernetes: operator and node agent" \
      org.opencontainers.image.licenses="Apache-2.0"
