"""The deployment files (docker-compose.yml, Dockerfile, .env.example),
checked without Docker: the compose file against the Compose Specification's JSON schema, the
start-up order, the secrets, the image against the pins.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

from minqing import orchestration

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SCHEMA_FILE = ROOT / "tests" / "fixtures" / "compose-spec.json"

AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker")
INIT = "airflow-init"
ONE_SHOT = {INIT}

# An environment variable whose name says it holds a secret.
SECRET_NAME = re.compile(r"PASS|SECRET|KEY|FERNET|TOKEN|CREDENTIAL|_AUTH$", re.IGNORECASE)
# scheme://user:password@host — the password part is what must not be a literal.
# (An interpolation may hold spaces, `${VAR:?set VAR in .env}`, so it is matched as one unit.)
URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://((?:\$\{[^}]*\}|[^:/@\s])*):((?:\$\{[^}]*\}|[^/@\s])*)@",
                             re.IGNORECASE)
# A command-line flag that takes a secret as its value (--password X, --requirepass X, ...).
SECRET_FLAG = re.compile(r"^--?[\w-]*(pass|secret|token|key)[\w-]*$", re.IGNORECASE)

# Compose interpolation: $$ (a literal $), ${NAME...} and $NAME.
_TOKEN = re.compile(r"\$(?:(\$)|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?$", re.DOTALL)


# --- helpers --------------------------------------------------------------------------------------

def _compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def _services() -> dict:
    return _compose()["services"]


def _env_example() -> dict[str, str]:
    values = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name), f".env.example:{number}: not NAME=value"
        values[name] = value
    return values


def _strings(node):
    """Every string of a loaded YAML document, keys included."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _references(text: str):
    """(name, operator, argument) of every interpolation in text; operator '' for ${NAME} / $NAME."""
    for match in _TOKEN.finditer(text):
        escaped, braced, bare = match.groups()
        if escaped:
            continue
        if bare:
            yield bare, "", ""
            continue
        parsed = _BRACED.match(braced)
        assert parsed, f"unsupported interpolation ${{{braced}}}"
        name, operator, argument = parsed.groups()
        yield name, operator or "", argument or ""


class MissingVariable(Exception):
    pass


def _interpolate(text: str, env: dict[str, str]) -> str:
    """What docker compose makes of a string, given the variables of .env."""
    def replace(match: re.Match) -> str:
        escaped, braced, bare = match.groups()
        if escaped:
            return "$"
        if bare:
            return env.get(bare, "")
        name, operator, argument = _BRACED.match(braced).groups()
        value = env.get(name)
        if operator == ":-":
            return value if value else argument
        if operator == "-":
            return argument if value is None else value
        if operator == ":?":
            if not value:
                raise MissingVariable(f"{name}: {argument}")
            return value
        if operator == "?":
            if value is None:
                raise MissingVariable(f"{name}: {argument}")
            return value
        if operator == ":+":
            return argument if value else ""
        if operator == "+":
            return argument if value is not None else ""
        return value or ""
    return _TOKEN.sub(replace, text)


def _interpolate_tree(node, env):
    if isinstance(node, str):
        return _interpolate(node, env)
    if isinstance(node, dict):
        return {_interpolate_tree(k, env): _interpolate_tree(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate_tree(item, env) for item in node]
    return node


def _filled_env() -> dict[str, str]:
    """.env.example with every empty secret filled, as an operator's .env would be."""
    return {name: value or "0123456789abcdef0123456789abcdef" for name, value in _env_example().items()}


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def _is_required_interpolation(value: str) -> bool:
    """The whole value is one ${VAR:?...} / ${VAR?...}: no literal part, no default to fall back to."""
    refs = list(_references(value))
    whole = re.fullmatch(r"\$\{[^}]*\}", value or "")
    return bool(whole) and len(refs) == 1 and refs[0][1] in (":?", "?")


def _hard_coded_secrets(compose: dict) -> list[str]:
    problems = []
    for name, service in compose.get("services", {}).items():
        for key, value in _environment(service).items():
            if SECRET_NAME.search(key) and not _is_required_interpolation(value or ""):
                problems.append(f"{name}: environment {key} is not a required ${{VAR:?}} interpolation")
        for field in ("command", "entrypoint"):
            args = service.get(field)
            if isinstance(args, list):
                for flag, value in zip(args, args[1:]):
                    if SECRET_FLAG.match(str(flag)) and not (_is_required_interpolation(str(value))
                                                             or str(value).startswith("$$")):
                        problems.append(f"{name}: {field} {flag} takes a literal")
    # Anywhere in the file (URLs in environment, commands, health checks, scripts):
    for text in _strings(compose):
        for match in URL_CREDENTIALS.finditer(text):
            password = match.group(2)
            if not (_is_required_interpolation(password) or password.startswith("$$")):
                problems.append(f"credentials in a URL are not a required interpolation: {match.group(0)}")
        for match in re.finditer(r"(--?[\w-]*(?:pass|secret|token)[\w-]*)[ =]+\"?([^\s\"]+)", text, re.IGNORECASE):
            # `--password-env NAME` names the variable that holds the secret: not a secret itself
            if not (match.group(2).startswith("$") or match.group(1).endswith("-env")):
                problems.append(f"secret flag with a literal value: {match.group(0)}")
    return problems


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _constraint(name: str) -> str:
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        pinned, sep, version = line.strip().partition("==")
        if sep and pinned.lower().replace("_", "-") == name:
            return version
    raise AssertionError(f"{name} is not pinned in constraints.txt")


def _init_script() -> str:
    init = _services()[INIT]
    assert init.get("entrypoint") in ("/bin/bash", ["/bin/bash"], "bash", ["bash"])
    command = init["command"]
    assert command[0] == "-c" and len(command) == 2, "airflow-init runs one bash -c script"
    return command[1]


# --- the compose file -----------------------------------------------------------------------------

def test_compose_file_validates_against_the_compose_specification():
    schema = yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    for label, document in (("as written", _compose()),
                            ("after interpolation", _interpolate_tree(_compose(), _filled_env()))):
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        assert not errors, f"{label}:\n" + "\n".join(
            f"  {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_every_variable_is_in_env_example_and_every_example_is_used():
    used = {name for text in _strings(_compose()) for name, _, _ in _references(text)}
    listed = set(_env_example())
    assert used - listed == set(), f"used in docker-compose.yml but missing from .env.example: {sorted(used - listed)}"
    assert listed - used == set(), f"in .env.example but not used by docker-compose.yml: {sorted(listed - used)}"


def test_env_example_shows_the_defaults_and_no_secret():
    example = _env_example()
    for text in _strings(_compose()):
        for name, operator, argument in _references(text):
            if operator in (":-", "-"):
                assert example[name] == argument, f".env.example {name}={example[name]!r}, compose default {argument!r}"
            if operator in (":?", "?") or SECRET_NAME.search(name):
                assert example[name] == "", f".env.example must leave the secret {name} empty, not a placeholder"


def test_the_stack_refuses_to_start_until_the_secrets_are_set():
    with pytest.raises(MissingVariable):
        _interpolate_tree(_compose(), _env_example())
    _interpolate_tree(_compose(), _filled_env())  # and starts once they are


def test_depends_on_targets_exist_and_conditions_are_meaningful():
    services = _services()
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on must name a condition for each service"
        for target, spec in depends_on.items():
            assert target in services, f"{name} depends on {target}, which is not a service"
            condition = spec["condition"]
            if condition == "service_healthy":
                check = services[target].get("healthcheck")
                assert check and not check.get("disable"), f"{name} waits for {target} to be healthy; it has no health check"
            if condition == "service_completed_successfully":
                assert target in ONE_SHOT, f"{name} waits for {target} to complete, but it is long-running"
                assert str(services[target].get("restart", "no")) in ("no", "False", "on-failure")


def test_start_up_order():
    services = _services()

    def conditions(name):
        return {target: spec["condition"] for target, spec in services[name].get("depends_on", {}).items()}

    init = conditions(INIT)
    for dependency in ("airflow-metadb", "warehouse", "redis"):
        assert init.get(dependency) == "service_healthy", f"airflow-init must wait for {dependency} to be healthy"
    for name in AIRFLOW_SERVICES:
        assert conditions(name).get(INIT) == "service_completed_successfully", f"{name} must wait for airflow-init"
    worker = conditions("airflow-worker")
    assert worker.get("airflow-apiserver") == "service_healthy", "workers need the Execution API"
    metabase = conditions("metabase")
    assert metabase.get("warehouse") == "service_healthy"
    assert metabase.get(INIT) == "service_completed_successfully"
    app_db = _environment(services["metabase"])["MB_DB_HOST"]
    assert metabase.get(app_db) == "service_healthy", "Metabase must wait for its application database"


def test_every_long_running_service_has_a_health_check():
    for name, service in _services().items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", f"{name} is one-shot: it must not be restarted"
            continue
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert service.get("restart") in ("always", "unless-stopped"), f"{name} is not restarted"


def test_airflow_services_share_one_image_and_one_environment():
    services = _services()
    airflow = {name: services[name] for name in (*AIRFLOW_SERVICES, INIT)}
    builds = {name: (s.get("build") or {}) for name, s in airflow.items()}
    for name, build in builds.items():
        assert build.get("context") == "." and build.get("dockerfile", "Dockerfile") == "Dockerfile", name
    assert len({s["image"] for s in airflow.values()}) == 1, "the Airflow services must run the same image"

    common = _environment(services["airflow-scheduler"])
    for name, service in airflow.items():
        env = _environment(service)
        differing = {k for k in common if env.get(k) != common[k]}
        assert not differing, f"{name} does not share the common Airflow environment: {sorted(differing)}"

    assert common["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert common["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"
    assert common["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Shanghai"
    assert "@airflow-metadb:" in common["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert "@airflow-metadb:" in common["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert common["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://") and "@redis:" in common["AIRFLOW__CELERY__BROKER_URL"]
    assert common["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:8080/")
    assert common["LANDING_DIR"] == "/opt/airflow/landing"
    # cosmos' watcher producer runs as in the local runs the tests and the bench make
    for name, value in orchestration.COSMOS_WATCHER_SETTINGS.items():
        assert common[name].lower() == value.lower(), name
    for secret in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY",
                   "MINQING_HASH_KEY"):
        assert secret in common, f"{secret} must be shared by every Airflow component"
    for name, service in airflow.items():
        mounts = [str(v) for v in service.get("volumes", [])]
        assert any(m.startswith("./data/landing:/opt/airflow/landing") for m in mounts), f"{name}: no landing mount"


def test_every_service_that_needs_the_warehouse_gets_it():
    services = _services()
    for name in (*AIRFLOW_SERVICES, INIT):
        env = _environment(services[name])
        url = env.get("WAREHOUSE_URL")
        assert url and "@warehouse:5432/" in url, f"{name} has no WAREHOUSE_URL to the warehouse service"
        conn = env.get("AIRFLOW_CONN_MINQING_WAREHOUSE")
        assert conn == url, f"{name}: the Airflow connection minqing_warehouse must be the same warehouse"


def test_workers_can_be_scaled():
    worker = _services()["airflow-worker"]
    for key in ("container_name", "hostname", "ports"):
        assert key not in worker, f"airflow-worker sets {key}: `--scale airflow-worker=3` would collide"
    published = []
    for name, service in _interpolate_tree(_compose(), _filled_env())["services"].items():
        for port in service.get("ports", []):
            parts = str(port).split(":")
            if len(parts) >= 2:
                published.append((parts[-3] if len(parts) == 3 else "0.0.0.0", parts[-2]))
    assert len(published) == len(set(published)), f"two services publish the same host port: {published}"


def test_no_secret_is_hard_coded():
    assert _hard_coded_secrets(_compose()) == []
    # The scan does see the credentials the file carries (the metadata database, the broker, the
    # result backend, the warehouse), all of them interpolated.
    urls = [m.group(0) for text in _strings(_compose()) for m in URL_CREDENTIALS.finditer(text)]
    assert len(urls) >= 5, urls


def test_the_secret_scan_catches_literals():
    leaky = {"services": {
        "db": {"environment": {"POSTGRES_PASSWORD": "airflow", "API_TOKEN": "${TOKEN:-fallback}"}},
        "app": {"environment": ["DATABASE_URL=postgresql://u:hunter2@db/x", "SECRET_KEY=${SECRET}",
                                "BROKER=redis://:${REDIS_PASSWORD:-dev pw}@redis:6379/0"],
                "command": ["redis-server", "--requirepass", "hunter2"]},
        "job": {"command": ["-c", "airflow users create --password hunter2"]},
    }}
    problems = _hard_coded_secrets(leaky)
    for needle in ("POSTGRES_PASSWORD", "API_TOKEN", "u:hunter2@", "SECRET_KEY", "dev pw}@", "--requirepass",
                   "--password hunter2"):
        assert any(needle in p for p in problems), f"the scan missed {needle}: {problems}"


def test_init_job_initialises_everything_once():
    script = _init_script()
    env = _environment(_services()[INIT])
    assert "airflow db migrate" in script
    if "fab" in env["AIRFLOW__CORE__AUTH_MANAGER"]:
        assert "airflow users create" in script, "the FAB auth manager needs an admin user"
    assert "minqing warehouse start" in script
    assert "minqing access password bi_reader --password-env BI_READER_PASSWORD" in script
    for name in ("AIRFLOW_ADMIN_PASSWORD", "BI_READER_PASSWORD", "METABASE_DB_PASSWORD"):
        assert name in env, f"airflow-init needs {name}"


def test_init_script_is_valid_bash_and_python():
    script = _interpolate(_init_script(), _filled_env())
    if shutil.which("bash"):
        result = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
        assert result.returncode == 0, result.stderr
    heredocs = re.findall(r"<<'PY'\n(.*?)\nPY\n", script, re.DOTALL)
    assert heredocs, "the Python steps of airflow-init were not found"
    for number, code in enumerate(heredocs, 1):
        compile(code, f"airflow-init python step {number}", "exec")


def test_metabase_keeps_its_metadata_in_postgres():
    services = _services()
    env = _environment(services["metabase"])
    assert env["MB_DB_TYPE"] == "postgres"
    assert env["MB_DB_HOST"] in services
    for name in ("MB_DB_DBNAME", "MB_DB_USER", "MB_DB_PORT", "MB_DB_PASS", "MB_ENCRYPTION_SECRET_KEY"):
        assert env.get(name), f"metabase: {name} is not set"


# --- the image ------------------------------------------------------------------------------------

def test_dockerfile_uses_the_pinned_airflow_python_and_constraints():
    instructions = _dockerfile_instructions()
    froms = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert len(froms) == 1
    match = re.fullmatch(r"apache/airflow:(\d+\.\d+\.\d+)-python(\d+\.\d+)", froms[0].split()[0])
    assert match, f"FROM must be the official apache/airflow:<version>-python<version> image, not {froms[0]}"
    airflow_version, python_version = match.groups()
    assert airflow_version == _constraint("apache-airflow") == _constraint("apache-airflow-core")
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    assert f">={python_version}" in requires.replace(" ", ""), f"python{python_version} vs requires-python {requires}"

    installs = [rest for keyword, rest in instructions if keyword == "RUN" and "pip install" in rest]
    assert installs, "the Dockerfile installs nothing"
    for run in installs:
        for command in re.split(r"&&|;", run):
            if "pip install" in command:
                assert re.search(r"(-c|--constraint)[ =]constraints\.txt", command), f"not constrained: {command.strip()}"


def test_dockerfile_sets_the_project_environment_and_builds_the_manifest():
    instructions = _dockerfile_instructions()
    env = {}
    for keyword, rest in instructions:
        if keyword == "ENV":
            env.update(dict(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", rest)))
    assert env.get("MINQING_HOME") == "/opt/airflow/minqing"
    dags_folder = env.get("AIRFLOW__CORE__DAGS_FOLDER", "")
    workdir = [rest for keyword, rest in instructions if keyword == "WORKDIR"][-1]
    copied = {(Path(workdir) / dest).as_posix().rstrip("/")
              for keyword, rest in instructions if keyword == "COPY"
              for dest in [rest.split()[-1]]}
    assert dags_folder.rstrip("/") in copied, f"DAGS_FOLDER {dags_folder} is not where dags/ is copied"

    # the project installed as a package (not editable), then the one manifest build: `minqing
    # dbt-manifest`, as `make install` does, whose dbt parse has a value for every env_var() that
    # profiles.yml requires without a database
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    project = [r for r in runs if re.search(r"pip install [^&]*-c constraints\.txt \.(\s|$)", r)]
    assert project and " -e " not in project[0], "the image must install the project as a normal package"
    assert "minqing dbt-manifest" in project[0], "the image does not build the dbt manifest after installing"
    assert "minqing dbt-manifest" in (ROOT / "Makefile").read_text(encoding="utf-8")
    profiles = (ROOT / "dbt_project" / "profiles.yml").read_text(encoding="utf-8")
    required = set(re.findall(r"env_var\('([A-Z_]+)'\)", profiles))
    assert required <= set(orchestration.dbt_parse_env()), "dbt parse needs a placeholder for each of them"


def test_dockerfile_copies_only_what_exists_and_what_the_context_keeps():
    ignore = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.startswith("#")]
    excluded = [p for p in ignore if not p.startswith("!")]
    for must in (".env", ".venv", ".minqing", "data"):
        assert must in excluded, f".dockerignore must exclude {must}"
    for keyword, rest in _dockerfile_instructions():
        if keyword != "COPY":
            continue
        sources = [s for s in rest.split()[:-1] if not s.startswith("--")]
        for source in sources:
            path = source.rstrip("/")
            assert (ROOT / path).exists(), f"COPY {source}: not in the repository (the build would fail)"
            for pattern in excluded:
                assert not fnmatch.fnmatch(path, pattern.rstrip("/")), f"COPY {source} is excluded by .dockerignore ({pattern})"


def test_the_open311_api_reads_through_its_own_read_only_login():
    service = _services()["open311"]
    env = _environment(service)
    assert env["OPEN311_DATABASE_URL"].startswith("postgresql://open311:") and "@warehouse:5432/" in env["OPEN311_DATABASE_URL"]
    assert env["WAREHOUSE_URL"] == env["OPEN311_DATABASE_URL"]  # never the pipeline's login
    assert not {"WAREHOUSE_PASSWORD", "MINQING_HASH_KEY", "AIRFLOW__CORE__FERNET_KEY"} & set(env)
    assert not any("WAREHOUSE_PASSWORD" in str(v) for v in env.values())
    assert service["entrypoint"] == ["minqing", "serve"] and "8311" in service["command"]
    assert "/health" in " ".join(service["healthcheck"]["test"])
    assert "minqing access password open311 --password-env OPEN311_PASSWORD" in _init_script()
