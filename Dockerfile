# syntax=docker/dockerfile:1
# The operator image: the `bridgedapp` package, its dependencies exactly as requirements/image.txt locks them
# (versions and hashes), and the pinned Strimzi bundle; nothing of the test bed. Runs as UID/GID 65532.
#   docker build -t bridgedapp-operator:0.1.0 .
#   docker build --build-context strimzi=../shared/strimzi -t bridgedapp-operator:0.1.0 .   # bundle from a folder
ARG STRIMZI_VERSION=1.2.0

# The install bundle, from the release; `--build-context strimzi=<folder>` replaces this stage (air-gapped).
FROM scratch AS strimzi
ARG STRIMZI_VERSION
ADD https://github.com/strimzi/strimzi-kafka-operator/releases/download/${STRIMZI_VERSION}/strimzi-cluster-operator-${STRIMZI_VERSION}.yaml /

FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
COPY requirements/image.txt ./
RUN /opt/venv/bin/pip install --no-cache-dir --require-hashes --only-binary=:all: -r image.txt
COPY pyproject.toml README.md ./
COPY operator ./operator
# Only the project itself: every dependency is already installed from the lock.
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps .

FROM python:3.11-slim
ARG STRIMZI_VERSION
COPY --from=build /opt/venv /opt/venv
# settings.py looks for the bundle here, so a cluster without internet access needs no download.
COPY --from=strimzi --chmod=0444 /strimzi-cluster-operator-${STRIMZI_VERSION}.yaml /opt/bridgedapp/strimzi/
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["bridgedapp"]
CMD ["run"]
