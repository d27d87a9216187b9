# One image for every process the Helm chart (helm/meters) runs: `python -m <service module>`
# for the Python services and the ingest writer, /usr/local/bin/gateway for the REST proxy.
#   docker build -t meters:0.1.0 .
# PyPI's torch is the CUDA build (several GB); for a CPU-only image point pip at a CPU wheel
# index: --build-arg PIP_EXTRA_INDEX_URL=<index> (torch==2.13.0 matches 2.13.0+cpu).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG GO_IMAGE=golang:1.26-bookworm

# The grpc-gateway REST proxy: generated and built exactly as `make gateway` does.
FROM ${GO_IMAGE} AS gateway
WORKDIR /src
COPY buf.yaml buf.gen.yaml ./
COPY proto proto
COPY gateway gateway
COPY scripts/build_gateway.sh scripts/
RUN CGO_ENABLED=0 scripts/build_gateway.sh

# The Python project into a virtualenv, with the stubs `make proto` generates.
FROM ${PYTHON_IMAGE} AS python
ARG PIP_EXTRA_INDEX_URL=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml ./
COPY proto proto
COPY meters meters
COPY ingest_svc ingest_svc
COPY scoring_svc scoring_svc
COPY forecast_svc forecast_svc
COPY customer_svc customer_svc
COPY alert_svc alert_svc
# scoring_svc's remote predictor client shares model_serving's V2 tensor encoding.
COPY model_serving model_serving
# grpcio-tools at the version pyproject.toml pins, in a throwaway venv.
RUN python -m venv /opt/tools \
 && /opt/tools/bin/pip install "$(grep -o 'grpcio-tools==[0-9.]*' pyproject.toml)" \
 && /opt/tools/bin/python -m grpc_tools.protoc -Iproto -Iproto/third_party/googleapis \
      --python_out=. --pyi_out=. --grpc_python_out=. $(find proto/meters -name '*.proto') \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install . \
 && /opt/venv/bin/python -c "import meters.ingest.v1.ingest_service_pb2_grpc, ingest_svc.server"

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.source="https://github.com/meters-platform/meters" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --gid 10001 meters \
 && useradd --uid 10001 --gid meters --no-create-home --home-dir /tmp --shell /usr/sbin/nologin meters
COPY --from=python /opt/venv /opt/venv
COPY --from=gateway /src/build/gateway /usr/local/bin/gateway
# The chart mounts the root filesystem read-only with an emptyDir at /tmp: nothing may write
# elsewhere (no .pyc, matplotlib's and torch's caches under HOME=/tmp).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    METERS_MODEL_REGISTRY=/models
USER 10001:10001
EXPOSE 50051 9100 8080
CMD ["python", "-m", "ingest_svc.server"]
