# moloslave: run a molotov load test straight from a git repository.
#
#   docker build -t moloslave .
#   docker run --rm -e TEST_REPO=https://example.com/you/loadtests.git -e TEST_NAME=smoke moloslave
#   docker run --rm moloslave https://example.com/you/loadtests.git smoke
#
# PYTHON_IMAGE is the base of both stages: any image with python3 (3.11+) and its venv module.
ARG PYTHON_IMAGE=python:3.12-slim

# Stage 1: the molotov wheel (it holds the moloslave command) and the wheels it depends on.
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python3 -m pip wheel --no-cache-dir --wheel-dir /wheels .

# Stage 2: those wheels in a virtual environment, run by a user that is not root.
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="moloslave" \
      org.opencontainers.image.description="Runs a molotov load test of a git repository"
ENV PATH=/opt/moloslave/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python3 -m venv /opt/moloslave \
    && /opt/moloslave/bin/pip install --no-cache-dir --no-index --find-links /wheels molotov \
    && useradd --no-log-init --create-home --uid 10001 --user-group moloslave
USER 10001:10001
WORKDIR /home/moloslave
ENTRYPOINT ["moloslave"]
