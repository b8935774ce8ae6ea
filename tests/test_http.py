"""The shared HTTP helper: failures carry their cause as data, and a call never outlives its time budget."""

import pytest
import requests

from common import http
from common.http import ApiError, Cause, call


class FakeClock:
    """Time that passes only when the code under test waits: in `sleep` or in a request's timeout."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class Session:
    """Answers each request with the next of `answers`: a (status, body, headers) or an exception class."""

    def __init__(self, clock, *answers):
        self.clock, self.answers, self.timeouts = clock, list(answers), []

    def request(self, method, url, *, headers, timeout, **kwargs):
        self.timeouts.append(timeout)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if answer is requests.Timeout:
            self.clock.now += timeout  # waited the whole timeout for nothing
            raise requests.Timeout("read timed out")
        if isinstance(answer, type):
            raise answer("boom")
        status, body, headers = answer
        response = requests.Response()
        response.status_code, response._content = status, body.encode()
        response.headers.update(headers)
        return response


@pytest.fixture
def clock(monkeypatch, settings):
    clock = FakeClock()
    monkeypatch.setattr(http.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(http.time, "sleep", clock.sleep)
    settings.HTTP_TIMEOUT, settings.HTTP_RETRIES, settings.HTTP_BACKOFF, settings.HTTP_TIME_BUDGET = 30, 4, 2, 90
    return clock


def fail(clock, *answers, **kwargs):
    session = Session(clock, *answers)
    with pytest.raises(ApiError) as caught:
        call("GET", "https://api.example.kz/x?token=s3cret", session=session, secrets=["s3cret"], **kwargs)
    return caught.value, session


@pytest.mark.parametrize("answer, cause, temporary, status", [
    (requests.Timeout, Cause.TIMEOUT, True, None),
    (requests.ConnectionError, Cause.CONNECTION, True, None),
    ((401, '{"message": "bad token"}', {}), Cause.TOKEN, False, 401),
    ((429, "", {"Retry-After": "7"}), Cause.RATE_LIMIT, True, 429),
    ((500, '{"errors": [{"title": "Internal error"}]}', {}), Cause.STATUS, True, 500),
    ((404, "<html>not here</html>", {}), Cause.STATUS, False, 404),
    ((200, "<html>a proxy page</html>", {}), Cause.MALFORMED, True, 200),
])
def test_a_failure_carries_its_cause(clock, answer, cause, temporary, status):
    error, _ = fail(clock, answer, retries=0)
    assert (error.cause, error.temporary, error.status) == (cause, temporary, status)
    assert "s3cret" not in str(error)


def test_it_keeps_the_apis_message_and_its_wait(clock):
    error, _ = fail(clock, (503, '{"errors": [{"title": "Service is down"}]}', {"Retry-After": "5"}), retries=0)
    assert (error.api_message, error.retry_after) == ("Service is down", 5)


def test_a_refused_token_is_not_retried(clock):
    _, session = fail(clock, (401, "", {}))
    assert len(session.timeouts) == 1


def test_a_call_that_never_answers_ends_within_its_time_budget(clock):
    started = clock.now
    error, session = fail(clock, requests.Timeout)
    assert clock.now - started <= 90
    assert len(session.timeouts) == 3  # 30 s, backoff 2 s, 30 s, backoff 4 s, the 24 s that are left
    assert session.timeouts[-1] == pytest.approx(24)
    assert error.cause == Cause.TIMEOUT and "time budget of 90 s is spent" in str(error)


def test_a_long_wait_the_budget_cannot_afford_is_not_started(clock):
    started = clock.now
    error, session = fail(clock, (429, "", {"Retry-After": "120"}))
    assert len(session.timeouts) == 1 and clock.now == started  # told to wait 2 minutes: says so at once
    assert error.cause == Cause.RATE_LIMIT and error.retry_after == 120


def test_it_retries_temporary_failures_within_the_budget_and_returns_the_answer(clock):
    session = Session(clock, requests.ConnectionError, (502, "", {}), (200, '{"ok": true}', {}))
    assert call("GET", "https://api.example.kz/x", session=session) == {"ok": True}
    assert len(session.timeouts) == 3
