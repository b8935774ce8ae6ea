"""The registry's jobs as django-q schedules, written by name (`manage.py setup_schedules`)."""

from django_q.models import Schedule

from . import registry

TASK = "jobs.tasks.run"
# Schedule names from before the registry, removed on the first upsert after an upgrade.
OLD_NAMES = r"^(catalog|feeds|orders|alerts): "


def declared():
    """Schedule name → its fields, for every job the queue runs."""
    return {
        job.name: {"func": TASK, "args": repr(job.name), "minutes": int(job.interval.total_seconds() // 60)}
        for job in registry.JOBS.values()
        if job.scheduled
    }


def schedules_upsert():
    """Create or update each declared schedule by name; remove ours that are no longer declared."""
    jobs = declared()
    for name, fields in jobs.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"schedule_type": Schedule.MINUTES, "repeats": -1, "hook": None, "kwargs": None, **fields},
        )
    ours = Schedule.objects.filter(func=TASK) | Schedule.objects.filter(name__regex=OLD_NAMES)
    removed, _ = ours.exclude(name__in=jobs).delete()
    return len(jobs), removed
