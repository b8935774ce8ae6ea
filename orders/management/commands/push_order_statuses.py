from django.core.management.base import BaseCommand

from orders import services


class Command(BaseCommand):
    help = "Send every approved status change to Kaspi (and settle those whose answer was lost)."

    def handle(self, *args, **options):
        results = services.status_changes_push()
        summary = ", ".join(f"{count} {state}" for state, count in results.items() if count)
        self.stdout.write(summary or "nothing to send")
