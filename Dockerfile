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

# 2. The project's packages. Installed editable on purpose: minqing.config finds dbt_project/ next
#    to the `minqing` package (PROJECT_ROOT), so the package must be imported from /opt/minqing and
#    not from a copy in site-packages. --no-deps: everything it needs is in the layer above.
COPY --chown=airflow:0 minqing/ minqing/
COPY --chown=airflow:0 ingestion/ ingestion/
COPY --chown=airflow:0 quality/ quality/
RUN pip install --no-cache-dir --no-deps -c constraints.txt -e .

# 3. The dbt project and its manifest. `dbt parse` reads profiles.yml, whose env_var() calls need
#    values, but it does not connect to the database: dummy MINQING_PG_* values, set for this one
#    command only, are enough. cosmos renders the DAGs from dbt_project/target/manifest.json.
COPY --chown=airflow:0 dbt_project/ dbt_project/
RUN MINQING_PG_HOST=build.invalid MINQING_PG_PORT=5432 MINQING_PG_USER=build \
    MINQING_PG_PASSWORD=build MINQING_PG_DBNAME=build \
    dbt parse --project-dir dbt_project --profiles-dir dbt_project \
 && test -s dbt_project/target/manifest.json \
 && rm -rf dbt_project/logs \
 && chmod -R g+rwX dbt_project/target

# 4. The DAGs (AIRFLOW__CORE__DAGS_FOLDER).
COPY --chown=airflow:0 dags/ dags/
