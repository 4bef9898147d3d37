# syntax=docker/dockerfile:1.7
# Two images from one build:
#   docker build --target operator -t tenantops/operator .   # the kopf operator (the chart's image)
#   docker build --target app -t tenantops/app .             # the example project: manage.py with
#                                                            # migratetenant, what the Jobs run
ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# A numeric non-root user: the pods run with runAsNonRoot (Pod Security "restricted").
RUN groupadd --gid 10001 app && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin app

# Build the project's wheel (tenant_app + tenant_operator) and its dependencies' wheels once.
FROM base AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY tenant_app ./tenant_app
COPY operator ./operator
RUN pip wheel --wheel-dir /wheels ".[operator,postgres]"

FROM base AS operator
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels "tenantops[operator]" && rm -rf /wheels
USER 10001:10001
EXPOSE 8080 8081
ENTRYPOINT ["tenant-operator"]
CMD ["--all-namespaces"]

FROM base AS app
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels "tenantops[postgres]" && rm -rf /wheels
WORKDIR /app
COPY --chown=10001:10001 example/ /app/
# The embedded default keeps SQLite files here; set DATABASE_URL for PostgreSQL.
ENV TENANTOPS_DATA_DIR=/app/var
RUN mkdir -p /app/var && chown 10001:10001 /app/var
USER 10001:10001
# The operator's Jobs set the command: [python, manage.py, migratetenant, --tenant-id=...].
ENTRYPOINT []
CMD ["python", "manage.py", "check"]
