from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from catalog.alstyle import AlstyleClient
from common.http import ApiError, Cause
from orders.kaspi import KaspiClient


def likely_cause(exc, *, token_name, url_name, url):
    """Plain words for what probably went wrong, from the error's cause."""
    match exc.cause:
        case Cause.NOT_CONFIGURED:
            return f"{token_name} is missing: set it in .env"
        case Cause.TOKEN:
            return f"the token was refused: check {token_name} (bad, expired or revoked)"
        case Cause.RATE_LIMIT:
            return "the API says this machine calls too fast; wait a minute and try again"
        case Cause.TIMEOUT | Cause.BUDGET:
            return (
                "no answer in time. Likely causes: the request was dropped because of a default library "
                f"User-Agent (this client sends {settings.HTTP_USER_AGENT!r}; a proxy that rewrites it would "
                "cause this), or the network or region (Kaspi is reported to time out from outside Kazakhstan)"
            )
        case Cause.CONNECTION:
            return f"could not connect: check {url_name} ({url}) and this machine's network/DNS"
        case Cause.STATUS if exc.status == 404:
            return f"the address was not found: check {url_name} ({url})"
        case Cause.STATUS:
            return f"the API answered HTTP {exc.status}: {exc.api_message or 'no message'}"
        case _:
            return f"the answer could not be read: {exc}"


class Command(BaseCommand):
    help = "Call both APIs once and say, in plain words, what is wrong if a call fails."

    def handle(self, *args, **options):
        checks = [
            # One attempt each: a diagnosis should come in seconds, not after every retry.
            ("Al-Style", lambda: AlstyleClient(retries=0).categories(), "ALSTYLE_TOKEN", "ALSTYLE_API_URL",
             settings.ALSTYLE_API_URL),
            ("Kaspi", lambda: KaspiClient(retries=0).cities(), "KASPI_TOKEN", "KASPI_API_URL", settings.KASPI_API_URL),
        ]
        failed = 0
        for name, probe, token_name, url_name, url in checks:
            try:
                found = probe()
            except ApiError as exc:
                failed += 1
                cause = likely_cause(exc, token_name=token_name, url_name=url_name, url=url)
                self.stderr.write(f"{name}: FAILED — {cause}\n  ({exc})")
                continue
            self.stdout.write(f"{name}: OK ({len(found)} records from {url})")
        if failed:
            raise CommandError(f"{failed} of {len(checks)} connections failed")
