from django.conf import settings
from django.core.management.base import CommandError
from django.utils.translation import gettext, gettext_lazy, ngettext

from catalog.alstyle import AlstyleClient
from common.commands import BaseCommand
from common.http import ApiError, Cause
from orders.kaspi import KaspiClient


def likely_cause(exc, *, token_name, url_name, url):
    """Plain words for what probably went wrong, from the error's cause."""
    names = {"token": token_name, "setting": url_name, "url": url}
    match exc.cause:
        case Cause.NOT_CONFIGURED:
            return gettext("%(token)s is missing: set it in .env") % names
        case Cause.TOKEN:
            return gettext("the token was refused: check %(token)s (bad, expired or revoked)") % names
        case Cause.RATE_LIMIT:
            return gettext("the API says this machine calls too fast; wait a minute and try again")
        case Cause.TIMEOUT | Cause.BUDGET:
            return gettext(
                "no answer in time. Likely causes: the request was dropped because of a default library "
                "User-Agent (this client sends %(agent)s; a proxy that rewrites it would cause this), or the "
                "network or region (Kaspi is reported to time out from outside Kazakhstan)"
            ) % {"agent": repr(settings.HTTP_USER_AGENT)}
        case Cause.CONNECTION:
            return gettext("could not connect: check %(setting)s (%(url)s) and this machine's network/DNS") % names
        case Cause.STATUS if exc.status == 404:
            return gettext("the address was not found: check %(setting)s (%(url)s)") % names
        case Cause.STATUS:
            return gettext("the API answered HTTP %(status)s: %(message)s") % {
                "status": exc.status, "message": exc.api_message or gettext("no message")}
        case _:
            return gettext("the answer could not be read: %(error)s") % {"error": exc}


class Command(BaseCommand):
    help = gettext_lazy("Call both APIs once and say, in plain words, what is wrong if a call fails.")

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
                self.stderr.write(gettext("%(api)s: FAILED — %(cause)s\n  (%(error)s)")
                                  % {"api": name, "cause": cause, "error": exc})
                continue
            self.stdout.write(ngettext("%(api)s: OK (%(count)d record from %(url)s)",
                                       "%(api)s: OK (%(count)d records from %(url)s)", len(found))
                              % {"api": name, "count": len(found), "url": url})
        if failed:
            raise CommandError(ngettext("%(failed)d of %(count)d connection failed",
                                        "%(failed)d of %(count)d connections failed", len(checks))
                               % {"failed": failed, "count": len(checks)})
