"""The commands speak the admin's language: Russian by default, their help included."""

import io
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command, get_commands, load_command_class
from django.utils import timezone

from feeds.services import feed_build
from jobs.models import JobRun

pytestmark = pytest.mark.russian

# Names that stay as they are in a Russian sentence; setting names and Kaspi's codes are in capitals.
NAMES = {"Kaspi", "Al-Style", "Telegram", "Ctrl-C"}
WORD = re.compile(r"[\w’'-]+")
ENGLISH = re.compile(r"[A-Za-z][A-Za-z’'-]*")


def english_runs(text):
    """Every run of three English words in a row, once addresses, paths and file or host names are out."""
    runs, run = [], []
    for word in WORD.findall(re.sub(r"\S*/\S*|\S+\.[a-z]{2,}\S*", " ", text)):
        if ENGLISH.fullmatch(word) and word not in NAMES and not word.isupper():
            run.append(word)
            continue
        if len(run) >= 3:
            runs.append(" ".join(run))
        run = []
    return runs + ([" ".join(run)] if len(run) >= 3 else [])


def run_command(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def assert_russian(text):
    assert re.search(r"[А-Яа-яЁё]", text), text
    assert english_runs(text) == [], text


def test_the_checker_finds_an_english_sentence_and_spares_names():
    assert english_runs("2 orders imported, done: 5 read") == ["orders imported done"]
    assert english_runs("Kaspi: ОК (KASPI_API_URL http://x/a/b) Al-Style SKU Ctrl-C") == []


def test_validate_feed_speaks_russian_about_a_good_and_a_bad_file(store, make_product, settings, tmp_path):
    make_product()
    feed_build()
    assert_russian(run_command("validate_feed", str(settings.FEED_DIR / "kaspi.xml")))
    bad = tmp_path / "bad.xml"
    bad.write_text("")
    with pytest.raises(CommandError) as refused:
        run_command("validate_feed", str(bad))
    assert_russian(str(refused.value))


def test_setup_schedules_speaks_russian(db):
    assert_russian(run_command("setup_schedules"))


def test_sync_orders_speaks_russian(sandbox):
    assert_russian(run_command("sync_orders", "--days", "14"))


def test_check_alerts_speaks_russian(db):
    for minutes in (3, 2, 1):
        started = timezone.now() - timedelta(minutes=minutes)
        JobRun.objects.create(kind="sync_products", outcome="failed", started=started, finished=started,
                              error="HTTP 503")
    assert_russian(run_command("check_alerts"))


# Django's and argparse's own options (--verbosity, --help…) are theirs to translate, not ours.
DJANGO_OPTIONS = {"help", "version", "verbosity", "settings", "pythonpath", "traceback", "no_color",
                  "force_color", "skip_checks"}


@pytest.mark.parametrize("name", ["validate_feed", "sync_orders", "order_status", "sandbox"])
def test_the_help_of_a_command_is_russian(name):
    parser = load_command_class(get_commands()[name], name).create_parser("manage.py", name)
    assert_russian(parser.description)
    for action in parser._actions:
        if action.dest not in DJANGO_OPTIONS:
            assert_russian(str(action.help) % {"default": ""})
