from django.core.management.base import CommandError
from django.utils.translation import gettext, gettext_lazy

from common.commands import BaseCommand
from jobs.locks import JobBusy
from orders import changes
from orders.kaspi import KaspiError
from orders.models import StatusChange


class Command(BaseCommand):
    help = gettext_lazy("Send every approved status change to Kaspi (and settle those whose answer was lost).")

    def handle(self, *args, **options):
        try:
            results = changes.order_statuses_push()
        except JobBusy:
            raise CommandError(gettext("another status push is running; nothing sent from here")) from None
        except KaspiError as exc:
            raise CommandError(str(exc)) from None
        states = dict(StatusChange.State.choices)  # some labels have a comma: the counts are parted by "; "
        summary = "; ".join(f"{states[state]}: {count}" for state, count in results.items() if count)
        self.stdout.write(summary or gettext("nothing to send"))
