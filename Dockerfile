# The operator image: the `bridgedapp` package and the pinned Strimzi bundle, nothing of the test bed.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ARG STRIMZI_VERSION=1.2.0
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels pip install --no-cache-dir /wheels/*.whl
# The image ships the pinned install bundle, so air-gapped clusters need no download (settings.py looks here).
ADD https://github.com/strimzi/strimzi-kafka-operator/releases/download/${STRIMZI_VERSION}/strimzi-cluster-operator-${STRIMZI_VERSION}.yaml \
    /opt/bridgedapp/strimzi/strimzi-cluster-operator-${STRIMZI_VERSION}.yaml
RUN chmod 0444 /opt/bridgedapp/strimzi/*.yaml
USER 65532:65532
ENTRYPOINT ["bridgedapp"]
CMD ["run"]
