# utxoiq-ingest: `utxoiq consume`, `utxoiq db upgrade` and the operator commands.
#   docker build -t utxoiq-ingest .
#   docker run --rm utxoiq-ingest config show
# The build stage installs the package into a virtualenv; the final stage copies only that
# virtualenv onto the same slim base: no compiler, no pip, no sources, a non-root user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/utxoiq
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY consumer ./consumer
RUN /opt/utxoiq/bin/pip install --no-compile . \
 && /opt/utxoiq/bin/pip uninstall --yes pip setuptools wheel \
 && /opt/utxoiq/bin/python -m compileall -q /opt/utxoiq/lib

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="utxoiq-ingest" \
      org.opencontainers.image.description="Kafka to PostgreSQL ingestion for utxoIQ" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 utxoiq \
 && useradd --system --uid 10001 --gid utxoiq --no-create-home --shell /usr/sbin/nologin utxoiq \
 && (python -m pip uninstall --yes --quiet pip setuptools wheel || true)
COPY --from=build /opt/utxoiq /opt/utxoiq
ENV PATH=/opt/utxoiq/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UTXOIQ_HTTP_HOST=0.0.0.0 \
    UTXOIQ_HTTP_PORT=9400
USER 10001:10001
WORKDIR /tmp
EXPOSE 9400
STOPSIGNAL SIGTERM
ENTRYPOINT ["utxoiq"]
CMD ["consume"]
