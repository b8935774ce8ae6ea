from django.core.management import call_command
from django.utils.translation import gettext_lazy

from common.commands import BaseCommand
from kaspiconnect.processes import run_web_and_queue


class Command(BaseCommand):
    help = gettext_lazy("Run the web server (gunicorn, static files by WhiteNoise) and the django-q2 cluster until "
                        "stopped.")

    def add_arguments(self, parser):
        parser.add_argument("--address", help=gettext_lazy("host:port to listen on (default: GUNICORN_BIND)"))

    def handle(self, *args, address=None, **options):
        call_command("collectstatic", interactive=False, verbosity=0)
        run_web_and_queue(address=address, out=self.stdout.write)
