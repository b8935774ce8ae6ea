"""Secrets never leave .env: not in errors, run rows, alerts or logs (in any encoding), not in the repository."""

import re
import subprocess
from pathlib import Path

import pytest

from catalog.alstyle import AlstyleClient, AlstyleError
from catalog.services import SyncError, products_sync
from common.http import mask
from common.log import mask_secrets
from jobs.models import JobRun

ROOT = Path(__file__).resolve().parent.parent
RESERVED = "Ab+cD/eF=gh==Xy+z/123"  # what a token with URL-reserved characters looks like


@pytest.mark.parametrize("form", [RESERVED, "Ab%2BcD%2FeF%3Dgh%3D%3DXy%2Bz%2F123",
                                  "Ab%2bcD%2feF%3dgh%3d%3dXy%2bz%2f123", "Ab%2BcD/eF%3Dgh%3D%3DXy%2Bz/123"])
def test_a_token_is_masked_in_every_encoding(form):
    assert mask(f"GET /api?x=1&t={form} failed", [RESERVED]) == "GET /api?x=1&t=*** failed"


def test_the_whole_access_token_value_is_masked_whatever_it_is():
    assert mask_secrets("https://api.al-style.kz/api/categories?access-token=anything%2Bat/all&x=1") == (
        "https://api.al-style.kz/api/categories?access-token=***&x=1")


def test_a_reserved_character_token_leaks_nowhere(db, settings, caplog):
    settings.ALSTYLE_TOKEN = RESERVED
    settings.ALSTYLE_API_URL = "http://127.0.0.1:9/api"  # nothing listens: the error names the URL
    settings.HTTP_RETRIES = 0
    with pytest.raises(SyncError) as failure:
        products_sync()
    run = JobRun.objects.get(kind="sync_products")
    told = " ".join([str(failure.value), run.error, run.notes, caplog.text])
    for form in (RESERVED, "Ab%2BcD%2FeF%3Dgh", "Ab+cD/eF"):
        assert form not in told
    with pytest.raises(AlstyleError) as direct:
        AlstyleClient().categories()
    assert "Ab%2BcD" not in str(direct.value) and "connection failed" in str(direct.value)


# --- the repository -------------------------------------------------------------------------------

TOKEN_SHAPES = {
    "a Telegram bot token": re.compile(r"\b\d{8,10}:[A-Za-z0-9_-]{35}\b"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a password in a database or mail URL": re.compile(r"\b(?:postgres|postgresql|redis|smtp\+?\w*)://[^:/\s@]+:"
                                                       r"(?!password@|pass@|\*\*\*@)[^@\s]{4,}@"),
    "a secret assigned in code or config": re.compile(
        r"(?i)\b[A-Z_]*(?:TOKEN|SECRET_KEY|PASSWORD)\b\s*[=:]\s*['\"]?(?=[A-Za-z0-9+/_-]*\d)"
        r"(?=[A-Za-z0-9+/_-]*[A-Z])(?=[A-Za-z0-9+/_-]*[a-z])[A-Za-z0-9+/_-]{32,}"),
}


def tracked_files():
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / name for name in names]


def test_no_env_file_is_tracked_and_the_example_holds_no_secret():
    names = {path.name for path in tracked_files()}
    assert ".env" not in names
    example = (ROOT / ".env.example").read_text()
    for name in ("SECRET_KEY", "ALSTYLE_TOKEN", "KASPI_TOKEN", "FEED_TOKEN", "FEED_TOKEN_PREVIOUS",
                 "TELEGRAM_BOT_TOKEN"):
        assert re.search(rf"^{name}=$", example, re.M), name


def test_the_repository_holds_no_token_like_string():
    found = []
    for path in tracked_files():
        if "tests" in path.relative_to(ROOT).parts or path.suffix in (".png", ".mo", ".pdf", ".sqlite3"):
            continue  # tests use obvious fakes; binary files have no text
        text = path.read_text(errors="ignore")
        found += [f"{path.relative_to(ROOT)}: {what}" for what, shape in TOKEN_SHAPES.items() if shape.search(text)]
    assert found == []


def test_the_scan_sees_what_it_must_refuse():
    # Assembled here, so that the repository itself holds no string shaped like a secret.
    fake = "Ab1Cd2Ef3Gh4Jk5Lm6Np7Qr8St9Uv0Wx1Yz"
    samples = [f"TELEGRAM_BOT_TOKEN=1234567890:{fake[:35]}", f"KASPI_TOKEN = '{fake}'",
               "DATABASE_URL=postgres://shop:" + "Not" + "Real9@db:5432/kaspiconnect"]
    for sample in samples:
        assert any(shape.search(sample) for shape in TOKEN_SHAPES.values()), sample
    assert not any(shape.search("DATABASE_URL=postgres://user:pass@127.0.0.1:5432/kaspiconnect")
                   for shape in TOKEN_SHAPES.values())
