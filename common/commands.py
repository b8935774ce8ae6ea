"""The base of the project's management commands: their `help` is translated, like all they print."""

from django.core.management import base


class BaseCommand(base.BaseCommand):
    """Django's command with a `help` that may be lazy (`gettext_lazy`): argparse formats the description
    with `re`, which takes only a real str, so it is made one, in the language active when help is asked."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.description = str(self.help) if self.help else None
        return parser
