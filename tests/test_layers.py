"""The folders say which layer is which: the shared helpers and the sandbox import no app (nor the project)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS_AND_PROJECT = {"catalog", "orders", "feeds", "kaspiconnect"}


def imported_packages(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def test_the_shared_helpers_import_no_app():
    helpers = sorted((ROOT / "common").glob("*.py"))
    assert helpers, "the shared helpers live in common/"
    offending = {path.name: sorted(set(imported_packages(path)) & APPS_AND_PROJECT) for path in helpers}
    assert {name: apps for name, apps in offending.items() if apps} == {}


def test_the_sandbox_plays_an_outside_service_and_imports_no_app():
    modules = sorted((ROOT / "sandbox").rglob("*.py"))
    offending = {str(path.relative_to(ROOT)): sorted(set(imported_packages(path)) & APPS_AND_PROJECT)
                 for path in modules}
    assert {name: apps for name, apps in offending.items() if apps} == {}


def test_it_sees_an_import_it_must_refuse(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom catalog.models import Product\nfrom .http import call\n")
    assert set(imported_packages(sample)) & APPS_AND_PROJECT == {"catalog"}


def test_jobs_imports_no_app():
    modules = [p for p in sorted((ROOT / "jobs").rglob("*.py")) if "migrations" not in p.parts]
    offending = {str(path.relative_to(ROOT)): sorted(set(imported_packages(path)) & APPS_AND_PROJECT)
                 for path in modules}
    assert {name: apps for name, apps in offending.items() if apps} == {}


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

    assert list(JobRun.objects.values_list("kind", "outcome", "received")) == [("catalog", "ok", 7)]
    assert User.objects.get(pk=viewer.pk).has_perm("jobs.view_jobrun")  # who could see the runs still can
