from django.core.management.base import BaseCommand, CommandError

from catalog.alstyle import AlstyleError
from jobs.locks import JobBusy
from purchasing.tracking import supplier_orders_sync


class Command(BaseCommand):
    help = ("Propose supplier orders for accepted Kaspi orders, send the approved ones, and record Al-Style's "
            "statuses of those sent (one run of the job sync_supplier_orders).")

    def handle(self, *args, **options):
        try:
            run = supplier_orders_sync()
        except JobBusy:
            raise CommandError("another supplier order sync is running; nothing done from here") from None
        except AlstyleError as exc:
            raise CommandError(f"supplier order sync failed: {exc}") from None
        self.stdout.write(f"supplier orders, {run.verdict}: {run.created} proposed, {run.received} sent or "
                          f"settled, {run.updated} status changes, {run.requests} requests "
                          f"in {run.duration.total_seconds():.1f} s")
