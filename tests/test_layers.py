"""The folders say which layer is which, and the imports keep to them:

    kaspiconnect (settings, urls, the commands that start the shop)
    monitoring (dashboard, alerts, /healthz)           reads every app
    catalog, orders, feeds                             the apps
    jobs, common                                       the floor: import no app
    sandbox                                            plays the outside services: imports no app
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = {"catalog", "orders", "feeds"}
ABOVE_THE_APPS = {"purchasing", "monitoring", "reports", "kaspiconnect"}
PROJECT = APPS | ABOVE_THE_APPS | {"jobs", "common", "sandbox"}


def modules(package):
    return [path for path in sorted((ROOT / package).rglob("*.py")) if "migrations" not in path.parts]


def imports(path):
    """(package, module, name) for each import in the file; name is None for `import x.y`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                yield node.module.split(".")[0], node.module, alias.name


def offending(packages, forbidden):
    found = {}
    for package in packages:
        for path in modules(package):
            bad = sorted({top for top, _module, _name in imports(path) if top in forbidden and top != package})
            if bad:
                found[str(path.relative_to(ROOT))] = bad
    return found


def imported_packages(path):
    return {top for top, _module, _name in imports(path)}


def test_it_sees_an_import_it_must_refuse(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom catalog.models import Product\nfrom .http import call\n")
    assert imported_packages(sample) & PROJECT == {"catalog"}


@pytest.mark.parametrize("floor", ["common", "jobs", "sandbox"])
def test_the_floor_imports_no_app(floor):
    allowed = {"common"} if floor == "jobs" else set()
    assert offending([floor], PROJECT - allowed) == {}


def test_no_app_imports_the_layers_above_it():
    assert offending(sorted(APPS | {"jobs", "common"}), ABOVE_THE_APPS) == {}


def test_the_monitoring_layer_does_not_reach_into_the_project_package():
    assert offending(["monitoring"], {"kaspiconnect"}) == {}


def test_orders_imports_nothing_private_of_the_catalogue():
    private = {}
    for path in modules("orders"):
        names = [f"{module}.{name}" for top, module, name in imports(path)
                 if top == "catalog" and (name is None or name.startswith("_") or "._" in module)]
        if names:
            private[str(path.relative_to(ROOT))] = names
    assert private == {}
    assert {module for path in modules("orders") for top, module, _ in imports(path) if top == "catalog"} <= {
        "catalog.models", "catalog.offers"}  # the catalogue's models and its public offer rules


def test_the_run_rows_survive_their_move_to_jobs(transactional_db):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("catalog", "0003_price_lock_source"), ("jobs", None)]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state([before[0]]).apps.get_model("catalog", "SyncRun")
    old.objects.create(kind="catalog", outcome="ok", received=7)
    from django.contrib.auth.models import Permission, User
    from django.contrib.contenttypes.models import ContentType

    # As an installation from before the move has them: the catalogue's content type and permission.
    ContentType.objects.filter(app_label="jobs").delete()
    legacy = ContentType.objects.create(app_label="catalog", model="syncrun")
    viewer = User.objects.create_user("viewer")
    viewer.user_permissions.add(Permission.objects.create(content_type=legacy, codename="view_syncrun",
                                                          name="Can view sync run"))
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    from jobs.models import JobRun

    # and, renamed by jobs 0004, their kind is the job's name
    assert list(JobRun.objects.values_list("kind", "outcome", "received")) == [("sync_products", "ok", 7)]
    assert User.objects.get(pk=viewer.pk).has_perm("jobs.view_jobrun")  # who could see the runs still can
