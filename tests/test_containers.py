"""The container files, read as Docker would read them (no engine runs here): kept in step with the Makefile."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose():
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def dockerfile():
    lines, current = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.strip().startswith("#") or not line.strip():
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            lines.append(current.strip())
            current = ""
    return [(line.split(" ", 1)[0].upper(), line.split(" ", 1)[1]) for line in lines]


def test_the_image_is_slim_python_311_and_runs_as_a_user_that_is_not_root():
    steps = dockerfile()
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [argument for instruction, argument in steps if instruction == "USER"]
    assert users and users[-1] not in ("root", "0")
    last_user = max(i for i, (instruction, _) in enumerate(steps) if instruction == "USER")
    assert last_user < [i for i, (instruction, _) in enumerate(steps) if instruction == "CMD"][-1]


def test_the_image_installs_what_the_makefile_installs_and_serves_with_gunicorn():
    steps = dict(dockerfile()[1:])  # later instructions of a kind win, as in a build
    runs = " ".join(argument for instruction, argument in dockerfile() if instruction == "RUN")
    makefile = (ROOT / "Makefile").read_text()
    runtime = re.search(r"^\$\(VENV\)/\.installed:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert re.findall(r"pip install -q -r (\S+)", runtime) == ["requirements.txt"]  # what `make install` does
    assert "pip install -r requirements.txt" in runs
    assert "collectstatic" in runs
    assert "KASPICONNECT_DEMO" not in runs  # which would write a secret key file into the image
    # Given for collectstatic, so that no generated customer-data key is kept in the image's var/.
    assert re.search(r"FIELD_ENCRYPTION_KEY=\S+.*collectstatic", runs, re.S)
    assert "gunicorn" in steps["CMD"] and "/healthz" in steps["HEALTHCHECK"]
    requirements = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^gunicorn==", requirements, re.M) and re.search(r"^whitenoise==", requirements, re.M)


def test_compose_runs_web_worker_postgres_and_redis_with_health_checks():
    services = compose()["services"]
    assert set(services) == {"web", "worker", "db", "redis"}
    assert all("healthcheck" in service for service in services.values())
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "qcluster" in services["worker"]["command"]
    assert "gunicorn" in " ".join(services["web"]["command"])
    assert services["db"]["image"].startswith("postgres:") and services["redis"]["image"].startswith("redis:")
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"


def test_compose_keeps_data_feeds_and_logs_in_volumes_and_secrets_in_files():
    spec = compose()
    services, volumes = spec["services"], spec["volumes"]
    mounted = {name: {volume.split(":")[0]: volume.split(":")[1] for volume in service.get("volumes", [])}
               for name, service in services.items()}
    assert mounted["db"]["pgdata"] == "/var/lib/postgresql/data"
    for name in ("web", "worker"):  # the worker builds the feed the web serves: the same volume
        assert mounted[name]["feeds"] == services[name]["environment"]["FEED_DIR"] == "/app/var/feeds"
        assert mounted[name]["logs"] == "/app/logs"
        environment = services[name]["environment"]
        assert environment["SECRET_KEY_FILE"].startswith("/run/secrets/")
        assert environment["DATABASE_URL_FILE"].startswith("/run/secrets/")
        assert services[name]["env_file"] == ".env"
    assert {"pgdata", "feeds", "logs"} <= set(volumes)
    assert all("file" in secret for secret in spec["secrets"].values())


def test_the_ci_workflow_runs_make_test_with_postgres_and_redis():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    [job] = workflow["jobs"].values()
    assert {"postgres", "redis"} <= set(job["services"])
    commands = [step.get("run", "") for step in job["steps"]]
    assert "make test" in commands and "make test-slow" in commands
    assert job["services"]["postgres"]["env"]["POSTGRES_DB"] == "test"  # PG_TEST_URL's database


def test_nothing_secret_goes_into_the_image():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", "secrets/", ".git/", "var/"} <= set(ignored)
