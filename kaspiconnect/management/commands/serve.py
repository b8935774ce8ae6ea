from django.core.management.base import BaseCommand

from kaspiconnect.processes import run_web_and_queue


class Command(BaseCommand):
    help = "Run the admin web server and the django-q2 cluster together until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--address", default="127.0.0.1:8000")

    def handle(self, *args, address, **options):
        run_web_and_queue(address=address, out=self.stdout.write)
