"""Logins, failed logins and lockouts, from Django's and django-axes' signals, into the security log
(`common.log.security_event`; `monitoring.securitylog` keeps its rows for the admin page)."""

import logging

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from common.log import security_event
from common.net import client_ip


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    security_event("login", f"{user} logged in", user=user, address=request and client_ip(request),
                   level=logging.INFO)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    name = str(credentials.get("username", ""))[:150]
    security_event("login_failed", f"a failed login as {name!r}", user=name,
                   address=request and client_ip(request))


@receiver(user_locked_out)
def _locked_out(sender, request, username, ip_address, **kwargs):
    security_event("lockout", f"locked out after repeated failures: {username!r} from {ip_address}",
                   user=username or "", address=ip_address)
