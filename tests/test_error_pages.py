"""The 403, 404 and 500 pages read Russian, look like the admin and lead back to it."""

import re

import lxml.html
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.views.defaults import server_error

pytestmark = pytest.mark.russian

CYRILLIC = re.compile(r"[А-Яа-яЁё]")


def page(response):
    return lxml.html.fromstring(response.content.decode())


def assert_reads_russian(response, template):
    assert template in [used.name for used in response.templates]
    html = page(response)
    heading = html.findtext(".//h1")
    assert CYRILLIC.search(heading), heading
    explanation = html.find('.//div[@id="content-main"]/p').text_content()
    assert CYRILLIC.search(explanation), explanation
    assert html.xpath('//div[@id="content-main"]//a[@href="/admin/"]'), "no way back to the admin"


@pytest.fixture
def clerk(db):
    """A staff user with no permission at all: the admin lets them in and refuses every list."""
    return get_user_model().objects.create_user("clerk", password="pw", is_staff=True)


def test_it_shows_a_russian_404_page(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert_reads_russian(response, "404.html")


def test_it_shows_a_russian_403_page_when_the_admin_refuses(client, clerk, settings):
    settings.DEBUG = False
    client.force_login(clerk)
    response = client.get("/admin/catalog/product/")
    assert response.status_code == 403
    assert_reads_russian(response, "403.html")


def test_a_form_without_its_csrf_token_gets_the_russian_403_page(db, settings):
    settings.DEBUG = False
    response = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    assert_reads_russian(response, "403_csrf.html")


def test_the_500_page_needs_nothing_and_reads_russian(rf):
    response = server_error(rf.get("/admin/"))
    assert response.status_code == 500
    html = lxml.html.fromstring(response.content.decode())
    assert CYRILLIC.search(html.findtext(".//h1")) and CYRILLIC.search(html.find(".//main/p").text_content())
