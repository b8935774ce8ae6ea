from django.core.management.base import CommandError
from django.utils.translation import gettext, gettext_lazy, ngettext

from common.commands import BaseCommand
from jobs.locks import JobBusy
from monitoring import alerts


class Command(BaseCommand):
    help = gettext_lazy("Look for problems now: send alerts for new ones and all-clears for ended ones, retry "
                        "unsent ones.")

    def handle(self, *args, **options):
        try:
            result = alerts.alerts_check()
        except JobBusy as exc:
            raise CommandError(str(exc)) from None
        for alert in result.opened:
            self.stdout.write(gettext("opened: %(key)s: %(message)s") % {"key": alert.key, "message": alert.message})
        for alert in result.recovered:
            self.stdout.write(gettext("recovered: %(key)s: %(message)s") % {"key": alert.key,
                                                                            "message": alert.message})
        for alert in result.undelivered:
            self.stderr.write(gettext("not delivered: %(key)s (%(channels)s): %(error)s")
                              % {"key": alert.key, "channels": alert.undelivered, "error": alert.error})
        opened, recovered, still_open = len(result.opened), len(result.recovered), alerts.open_problems().count()
        self.stdout.write(", ".join([
            ngettext("%(count)d opened", "%(count)d opened", opened) % {"count": opened},
            ngettext("%(count)d recovered", "%(count)d recovered", recovered) % {"count": recovered},
            ngettext("%(count)d open now", "%(count)d open now", still_open) % {"count": still_open},
        ]))
