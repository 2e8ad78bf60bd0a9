# syntax=docker/dockerfile:1
# The minqing Airflow image: the official Airflow 3 image with the project, dbt and cosmos installed
# from the pinned constraints, and the dbt manifest cosmos renders the DAGs from.
#
#   docker compose build            (docker-compose.yml builds every Airflow service from this file)
#
# The Airflow version and the Python version here must be the ones pinned in constraints.txt and
# pyproject.toml; tests/unit/test_compose.py checks that they are.
FROM apache/airflow:3.3.2-python3.11

# Code lives in /opt/minqing (read-only at run time); state lives in MINQING_HOME (per container:
# GX and dbt artifacts; the warehouse itself is the `warehouse` service, named by WAREHOUSE_URL).
ENV MINQING_SRC=/opt/minqing \
    MINQING_HOME=/opt/airflow/minqing \
    LANDING_DIR=/opt/airflow/landing \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/minqing/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False

USER root
RUN mkdir -p "${MINQING_SRC}" "${MINQING_HOME}" "${LANDING_DIR}" \
 && chown -R airflow:0 "${MINQING_SRC}" "${MINQING_HOME}" "${LANDING_DIR}" \
 && chmod -R g+rwX "${MINQING_HOME}"
USER airflow
WORKDIR /opt/minqing

# 1. Third-party dependencies, pinned by constraints.txt. Only pyproject.toml and constraints.txt are
#    needed, so this (large) layer is rebuilt when the pins change, not when the code does.
#    apache-airflow is held at the base image's version; the celery and fab providers that the
#    compose file uses (CeleryExecutor, FAB auth manager) ship with the base image and are part of
#    the resolution so that a pin that breaks them fails the build instead of the running stack.
COPY --chown=airflow:0 pyproject.toml constraints.txt README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install --no-cache-dir -c constraints.txt \
        "apache-airflow==${AIRFLOW_VERSION}" \
        apache-airflow-providers-celery \
        apache-airflow-providers-fab \
        -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# 2. The project, installed as a normal package (not editable): the dbt project, its seeds, the
#    migrations, templates and DAGs are package data (pyproject.toml), and minqing.config finds them
#    inside the installed package. --no-deps: everything it needs is in the layer above.
#    `minqing dbt-manifest` is the one manifest build (the same as `make install` and the DAG's
#    check): dbt parse, no database; cosmos renders the DAGs from it.
COPY --chown=airflow:0 minqing/ minqing/
COPY --chown=airflow:0 ingestion/ ingestion/
COPY --chown=airflow:0 quality/ quality/
COPY --chown=airflow:0 dbt_project/ dbt_project/
COPY --chown=airflow:0 dags/ dags/
RUN pip install --no-cache-dir --no-deps -c constraints.txt . \
 && minqing dbt-manifest
