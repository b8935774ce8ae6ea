from django.core.management.base import BaseCommand, CommandError

from jobs.locks import JobBusy
from orders import changes
from orders.kaspi import KaspiError


class Command(BaseCommand):
    help = "Send every approved status change to Kaspi (and settle those whose answer was lost)."

    def handle(self, *args, **options):
        try:
            results = changes.order_statuses_push()
        except JobBusy:
            raise CommandError("another status push is running; nothing sent from here") from None
        except KaspiError as exc:
            raise CommandError(str(exc)) from None
        summary = ", ".join(f"{count} {state}" for state, count in results.items() if count)
        self.stdout.write(summary or "nothing to send")
