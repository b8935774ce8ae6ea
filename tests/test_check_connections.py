from django.core.management import call_command
from django.core.management.base import CommandError


def run(capsys):
    try:
        call_command("check_connections")
    except CommandError as exc:
        out = capsys.readouterr()
        return False, out.out + out.err + str(exc)
    out = capsys.readouterr()
    return True, out.out + out.err


def test_it_reports_both_apis_working(sandbox, capsys):
    ok, text = run(capsys)
    assert ok
    assert "Al-Style: OK" in text and "Kaspi: OK" in text


def test_it_names_a_refused_token(sandbox, settings, capsys):
    settings.KASPI_TOKEN = "not-the-token-123"
    ok, text = run(capsys)
    assert not ok
    assert "Kaspi: FAILED" in text and "KASPI_TOKEN" in text and "refused" in text
    assert "not-the-token-123" not in text


def test_it_names_a_missing_token(sandbox, settings, capsys):
    settings.ALSTYLE_TOKEN = ""
    ok, text = run(capsys)
    assert not ok
    assert "ALSTYLE_TOKEN is missing" in text


def test_it_points_at_a_wrong_base_url(sandbox, settings, capsys):
    settings.KASPI_API_URL = sandbox.url + "/wrong/api"
    ok, text = run(capsys)
    assert "check KASPI_API_URL" in text and not ok


def test_it_explains_a_timeout_with_the_user_agent_and_region(sandbox, settings, capsys):
    settings.HTTP_USER_AGENT = "python-requests/2.32"  # what a careless client would send: Kaspi drops it
    ok, text = run(capsys)
    assert not ok
    assert "User-Agent" in text and "outside Kazakhstan" in text


def test_it_quotes_kaspis_own_error(sandbox, settings, capsys):
    sandbox.state.kaspi_down = True
    ok, text = run(capsys)
    assert not ok and "HTTP 503" in text


def test_it_reports_an_unreachable_host(settings, capsys, db):
    settings.ALSTYLE_API_URL = "http://127.0.0.1:9/api"
    settings.KASPI_API_URL = "http://127.0.0.1:9/shop/api/v2"
    ok, text = run(capsys)
    assert not ok and "could not connect" in text
