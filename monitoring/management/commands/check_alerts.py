from django.core.management.base import BaseCommand, CommandError

from jobs.locks import JobBusy
from monitoring import alerts


class Command(BaseCommand):
    help = "Look for problems now: send alerts for new ones and all-clears for ended ones, retry unsent ones."

    def handle(self, *args, **options):
        try:
            result = alerts.alerts_check()
        except JobBusy as exc:
            raise CommandError(str(exc)) from None
        for label, rows in (("opened", result.opened), ("recovered", result.recovered)):
            for alert in rows:
                self.stdout.write(f"{label}: {alert.key}: {alert.message}")
        for alert in result.undelivered:
            self.stderr.write(f"not delivered: {alert.key} ({alert.undelivered}): {alert.error}")
        still_open = alerts.open_problems().count()
        self.stdout.write(f"{len(result.opened)} opened, {len(result.recovered)} recovered, {still_open} open now")
