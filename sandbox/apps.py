from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """The simulated Al-Style and Kaspi APIs: for the demo and the tests, never part of the running shop."""

    name = "sandbox"
    verbose_name = "sandbox"
