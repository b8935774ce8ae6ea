import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


STRONG_KEY = "k3Y-" + "x7Qp9Lm2Vb8Rt4Wz6Nc1Hd5Jf0Gs3Ak" * 2  # 68 characters, many distinct


FIELD_KEY = "x8Vv0pQk4d2mYQ3cF9nE7hJt1bLs5gWz6rAoUiKeTyM="


def manage(*args, **env):
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("ALSTYLE_", "KASPI_", "FEED_", "SECRET_KEY", "SECURE_", "DEBUG", "FIELD_"))}
    defaults = {"KASPICONNECT_QUIET": "1", "SECRET_KEY": STRONG_KEY, "FIELD_ENCRYPTION_KEY": FIELD_KEY,
                "DATABASE_URL": f"sqlite:///{tempfile.gettempdir()}/kaspiconnect-settings-test.sqlite3"}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**clean, **defaults, **env}, timeout=60)


# What .env.example documents for HTTPS behind a proxy.
PRODUCTION = {
    "DEBUG": "false", "ALLOWED_HOSTS": "shop.example.kz", "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
    "SECURE_SSL_REDIRECT": "true", "SECURE_HSTS_SECONDS": "31536000", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true", "SESSION_COOKIE_SECURE": "true", "CSRF_COOKIE_SECURE": "true",
}


def test_the_documented_production_values_pass_the_deploy_check():
    example = (ROOT / ".env.example").read_text()
    for name, value in PRODUCTION.items():
        if name not in ("DEBUG", "ALLOWED_HOSTS"):
            assert f"#   {name}={value}" in example, name  # documented, as tested here
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("key, says", [
    ("", "SECRET_KEY is not set"),
    ("changeme", "SECRET_KEY is weak"),
    ("django-insecure-" + "a1b2c3d4e5" * 5, "SECRET_KEY is weak"),
])
def test_a_real_start_refuses_a_missing_or_weak_secret_key(key, says):
    result = manage("check", SECRET_KEY=key, DEBUG="false")
    assert result.returncode != 0
    assert says in result.stderr and "Traceback" not in result.stderr


def test_a_development_start_may_go_without_a_key():
    assert manage("check", SECRET_KEY="", DEBUG="true").returncode == 0
    assert manage("check", SECRET_KEY="", KASPICONNECT_DEMO="1").returncode == 0


def test_secrets_come_from_files(tmp_path):
    (tmp_path / "key").write_text(STRONG_KEY + "\n")
    (tmp_path / "feed").write_text("from-a-file-feed-token-123\n")
    code = f"from django.conf import settings; print(settings.SECRET_KEY == {STRONG_KEY!r}, settings.FEED_TOKEN)"
    result = manage("shell", "-v", "0", "-c", code, SECRET_KEY="", SECRET_KEY_FILE=str(tmp_path / "key"),
                    FEED_TOKEN_FILE=str(tmp_path / "feed"))
    assert result.stdout.split() == ["True", "from-a-file-feed-token-123"], result.stderr
    missing = manage("check", SECRET_KEY="", SECRET_KEY_FILE=str(tmp_path / "nothing"))
    assert missing.returncode != 0 and "SECRET_KEY_FILE cannot be read" in missing.stderr


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


def test_env_example_lists_every_variable_the_settings_read():
    import re as regex

    source = (ROOT / "kaspiconnect" / "settings.py").read_text()
    read = set(regex.findall(r'_(?:read|minutes|url|database)\(\s*"([A-Z][A-Z0-9_]+)"', source))
    example = (ROOT / ".env.example").read_text()
    listed = set(regex.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, regex.M))
    assert len(read) > 40 and read - listed == set()
