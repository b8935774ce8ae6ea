import io

import pytest
from django.conf import settings
from django.core.management import CommandError, ManagementUtility, call_command

from catalog.models import Product
from feeds.models import FeedRun


def run_command(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_builds_and_publishes(store, make_product):
    make_product(publish=False)
    make_product()

    out, _ = run_command("build_feed")

    assert "2 offers, 1 available" in out and "published" in out
    assert (settings.FEED_DIR / "kaspi.xml").exists()
    assert FeedRun.objects.get().outcome == FeedRun.Outcome.PUBLISHED


def test_it_builds_without_publishing_on_a_dry_run(store, make_product):
    make_product()

    out, _ = run_command("build_feed", "--dry-run")

    assert "dry run" in out
    assert not (settings.FEED_DIR / "kaspi.xml").exists()


def test_it_fails_naming_the_cause_when_the_guard_holds_the_feed(store, make_product):
    make_product(sku="A1")
    run_command("build_feed")
    Product.objects.update(supplier_stock=0)

    with pytest.raises(CommandError, match="held by the safety guard: Available offers dropped from 1 to 0"):
        run_command("build_feed")

    run_command("build_feed", "--force")
    assert FeedRun.objects.first().forced


def test_it_fails_naming_a_missing_setting(store, make_product, settings):
    make_product()
    settings.KASPI_MERCHANT_ID = ""

    with pytest.raises(CommandError, match="^failed: KASPI_MERCHANT_ID is not set$"):
        run_command("build_feed")


def test_it_exits_non_zero_with_one_line_and_no_traceback(db, capsys):
    # No store: the build fails; manage.py must say why in one line.
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "build_feed"]).execute()

    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["CommandError: failed: no active store: add one under Stores in the admin"]


def test_it_validates_a_good_file(store, make_product):
    make_product()
    make_product()
    run_command("build_feed")

    out, err = run_command("validate_feed", str(settings.FEED_DIR / "kaspi.xml"))

    assert out.strip() == "OK: 2 offers" and err == ""


def test_it_lists_the_errors_of_an_invalid_file(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_text('<kaspi_catalog xmlns="kaspiShopping" date="x">\n<company>Shop</company>\n</kaspi_catalog>\n')
    err = io.StringIO()

    with pytest.raises(CommandError, match="not a valid Kaspi feed"):
        call_command("validate_feed", str(path), stdout=io.StringIO(), stderr=err)

    assert err.getvalue().startswith("line 3: Element '{kaspiShopping}kaspi_catalog': Missing child element(s).")


def test_it_fails_on_a_missing_file(tmp_path):
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command("validate_feed", str(tmp_path / "none.xml"), stdout=io.StringIO(), stderr=err)

    assert "cannot read" in err.getvalue()


def test_build_feed_says_in_one_line_when_a_build_is_running(store):
    from jobs.locks import job_lock

    with job_lock("feed-build"), pytest.raises(CommandError, match="feed-build is already running"):
        call_command("build_feed")
