"""Each feed build that was meant to publish is a run of the job `build_feed`; the feed's own columns stay."""

import django.db.models.deletion
from django.db import migrations, models

LABELS = {"held": "held by the safety guard", "invalid": "invalid", "failed": "failed"}


def link_job_runs(apps, schema_editor):
    """Every earlier build that was meant to publish becomes a run of the job `build_feed`."""
    FeedRun = apps.get_model("feeds", "FeedRun")
    JobRun = apps.get_model("jobs", "JobRun")
    builds = FeedRun.objects.filter(job_run__isnull=True, finished__isnull=False).exclude(outcome="dry_run")
    for build in builds.iterator(chunk_size=500):
        failed = build.outcome != "published"
        build.job_run = JobRun.objects.create(
            kind="build_feed", started=build.started, finished=build.finished,
            outcome="failed" if failed else "ok", received=build.offers, created=build.added,
            error=f"{LABELS.get(build.outcome, build.outcome)}: {build.reason}" if failed else "",
        )
        build.save(update_fields=["job_run"])


class Migration(migrations.Migration):

    dependencies = [
        ('feeds', '0001_initial'),
        ('jobs', '0004_runs_named_by_job'),
    ]

    operations = [
        migrations.AddField(
            model_name='feedrun',
            name='job_run',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='feed_run', to='jobs.jobrun', verbose_name='job run'),
        ),
        migrations.RunPython(link_job_runs, migrations.RunPython.noop),
    ]
