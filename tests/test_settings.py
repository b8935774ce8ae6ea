import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def manage(*args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ALSTYLE_", "KASPI_", "FEED_"))}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**clean, "KASPICONNECT_QUIET": "1", **env}, timeout=60)


@pytest.mark.parametrize(
    "name, value",
    [
        ("ALSTYLE_MIN_INTERVAL", "fast"),
        ("ALSTYLE_MIN_INTERVAL", "-1"),
        ("DEBUG", "maybe"),
        ("FEED_TOKEN", "short"),
        ("FEED_TOKEN", "has spaces in it, too many"),
        ("KASPI_API_URL", "kaspi.kz/no-scheme"),
        ("SKU_PREFIX", "ПРЕ"),
        ("DATABASE_URL", "nosuchdb://x"),
        ("HTTP_RETRIES", "100"),
    ],
)
def test_it_stops_at_start_up_naming_a_malformed_variable(name, value):
    result = manage("check", **{name: value})
    assert result.returncode != 0
    assert f"{name} is malformed" in result.stderr


def test_it_starts_without_env_file_or_tokens():
    result = manage("check")
    assert result.returncode == 0, result.stderr


def test_a_missing_token_only_fails_the_command_that_needs_it(tmp_path):
    database = f"sqlite:///{tmp_path}/db.sqlite3"
    assert manage("migrate", DATABASE_URL=database).returncode == 0
    result = manage("sync_products", DATABASE_URL=database, ALSTYLE_TOKEN="")
    assert result.returncode == 1
    assert "ALSTYLE_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_removed_setting_still_set_is_named_at_start_up_with_what_replaced_it():
    result = manage("check", ALERT_FEED_FETCH_HOURS="3", DASHBOARD_ORDERS_RED_HOURS="2")
    assert result.returncode == 0, result.stderr  # a warning, not a refusal to start
    warnings = [line for line in result.stderr.splitlines() if "kaspiconnect.W001" in line]
    assert len(warnings) == 2
    assert "ALERT_FEED_FETCH_HOURS is set but no longer used: FEED_FETCH_MINUTES" in warnings[0]
    assert "DASHBOARD_ORDERS_RED_HOURS" in warnings[1] and "its own interval" in warnings[1]
    assert "W001" not in manage("check").stderr
