import pytest
import requests
import responses

from catalog.alstyle import AlstyleClient, AlstyleError

BASE = "http://alstyle.test/api"
PAGES = f"{BASE}/elements-pagination"


def page(elements, total):
    return {"elements": elements, "pagination": {"totalCount": total, "totalPages": -(-total // 250)}}


def client(**kwargs):
    return AlstyleClient(base_url=BASE, token="secret-token-123", **kwargs)


@responses.activate
def test_it_reads_every_page_until_the_announced_total():
    for offset in (0, 250, 500):
        count = 250 if offset < 500 else 10
        elements = [{"article": offset + i} for i in range(count)]
        responses.get(PAGES, json=page(elements, 510),
                      match=[responses.matchers.query_param_matcher(
                          {"limit": "250", "offset": str(offset),
                           "additional_fields": "brand,barcode,discountPrice,rrp,warehouses",
                           "access-token": "secret-token-123"})])
    pages = list(client().iter_pages())
    assert [len(p[2]) for p in pages] == [250, 250, 10]
    assert len(responses.calls) == 3


@responses.activate
def test_it_follows_a_server_that_caps_pages_below_the_limit():
    for offset in range(0, 300, 100):
        responses.get(PAGES, json=page([{"article": offset + i} for i in range(100)], 300),
                      match=[responses.matchers.query_param_matcher({"offset": str(offset)}, strict_match=False)])
    assert sum(len(p[2]) for p in client().iter_pages()) == 300


@responses.activate
def test_it_fails_when_the_catalogue_ends_before_its_total():
    responses.get(PAGES, json=page([{"article": 1}], 600),
                  match=[responses.matchers.query_param_matcher({"offset": "0"}, strict_match=False)])
    responses.get(PAGES, json=page([], 600),
                  match=[responses.matchers.query_param_matcher({"offset": "1"}, strict_match=False)])
    with pytest.raises(AlstyleError, match="ended at 1 of the 600"):
        list(client().iter_pages())


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500, "json": {"message": "oops"}},
        {"status": 502, "body": "<html>bad gateway</html>"},
        {"status": 403, "json": {"success": False, "message": "Too many requests", "interval": 0}},
        {"status": 200, "json": {"success": False, "message": "Подождите", "interval": 0}},
        {"status": 200, "body": "{not json"},
        {"body": requests.Timeout("read timed out")},
        {"body": requests.ConnectionError("refused")},
    ],
    ids=["500", "502-html", "403-rate-limit", "200-rate-limit-body", "bad-json", "timeout", "connection"],
)
@responses.activate
def test_it_retries_temporary_failures(failure):
    responses.get(f"{BASE}/categories", **failure)
    responses.get(f"{BASE}/categories", json=[{"id": 1, "name": "A", "left": 1, "right": 2, "level": 1}])
    assert client().categories()[0]["id"] == 1
    assert len(responses.calls) == 2


@responses.activate
def test_it_never_retries_a_refused_token_and_never_shows_it(settings):
    responses.get(f"{BASE}/categories", status=401, json={"message": "Invalid token secret-token-123"})
    with pytest.raises(AlstyleError) as error:
        client().categories()
    assert len(responses.calls) == 1
    assert "401" in str(error.value) and "ALSTYLE_TOKEN" in str(error.value)
    assert "secret-token-123" not in str(error.value)
    assert error.value.temporary is False


@responses.activate
def test_it_gives_up_after_the_configured_retries(settings):
    settings.HTTP_RETRIES = 2
    responses.get(f"{BASE}/categories", status=503)
    with pytest.raises(AlstyleError, match=r"HTTP 503 \(after 3 attempts\)") as error:
        client().categories()
    assert len(responses.calls) == 3
    assert "access-token" not in str(error.value)


@responses.activate
def test_it_masks_the_token_in_connection_errors():
    leaky = requests.ConnectionError(f"{BASE}/categories?access-token=secret-token-123")
    responses.get(f"{BASE}/categories", body=leaky)
    with pytest.raises(AlstyleError) as error:
        client(session=None).categories()
    assert "secret-token-123" not in str(error.value)


def test_it_names_the_missing_token(settings):
    settings.ALSTYLE_TOKEN = ""
    with pytest.raises(AlstyleError, match="ALSTYLE_TOKEN is not set"):
        AlstyleClient(base_url=BASE).categories()


@responses.activate
def test_it_sends_a_timeout_and_its_own_user_agent(settings):
    seen = {}

    def capture(request):
        seen["ua"] = request.headers["User-Agent"]
        return (200, {}, "[]")

    responses.add_callback(responses.GET, f"{BASE}/categories", callback=capture)
    client().categories()
    assert seen["ua"].startswith("kaspiconnect/")
    assert responses.calls[0].request.req_kwargs["timeout"] == settings.HTTP_TIMEOUT


def test_it_spaces_requests_by_the_minimum_interval(settings, monkeypatch):
    import time

    from common import ratelimit

    clock = {"now": 1000.0, "slept": []}
    monkeypatch.setattr(time, "time", lambda: clock["now"])

    def sleep(seconds):
        clock["slept"].append(round(seconds, 3))
        clock["now"] += seconds

    monkeypatch.setattr(ratelimit.time, "sleep", sleep)
    for _ in range(3):
        ratelimit.wait_turn("unit", 5)
        clock["now"] += 1
    assert clock["slept"] == [4.0, 4.0]


def test_it_spaces_requests_from_several_threads(settings):
    import threading

    from common import ratelimit

    stamps = []  # the moments the limiter released each call: what it promises to space

    def worker():
        for _ in range(3):
            stamps.append(ratelimit.wait_turn("threads", 0.05))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stamps.sort()
    assert len(stamps) == 9
    assert all(later - earlier >= 0.05 - 1e-6 for earlier, later in zip(stamps, stamps[1:]))  # float rounding only


@responses.activate
def test_it_waits_out_a_bare_403_too(settings, monkeypatch):
    import time

    waits = []
    monkeypatch.setattr(time, "sleep", waits.append)
    settings.ALSTYLE_MIN_INTERVAL = 5
    responses.get(f"{BASE}/categories", status=403, body="Forbidden")
    responses.get(f"{BASE}/categories", json=[])
    assert client(min_interval=0).categories() == []
    assert waits == [5]


@responses.activate
def test_a_token_in_the_path_never_reaches_a_timeout_message():
    from common.http import ApiError, call

    responses.post("http://telegram.test/bot42:secret/sendMessage", body=requests.Timeout("slow"))
    with pytest.raises(ApiError) as error:
        call("POST", "http://telegram.test/bot42:secret/sendMessage", secrets=["42:secret"], retries=0)
    assert "42:secret" not in str(error.value) and "no answer" in str(error.value)
