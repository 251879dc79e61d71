"""The desk's clockwork as django-celery-beat rows, editable in the admin (Periodic tasks):
the nightly collection cycle at 01:00 Asia/Shanghai, reminder dispatch every 15 minutes and
promise evaluation every hour. Existing rows of the same name are left as the admin set them."""

from django.db import migrations

CYCLE = "collection: nightly collection cycle"
DISPATCH = "collection: reminder dispatch"
PROMISES = "collection: promise evaluation"
NAMES = (CYCLE, DISPATCH, PROMISES)


def forwards(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")

    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="1", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
    )
    every_15_minutes, _ = IntervalSchedule.objects.get_or_create(every=15, period="minutes")
    hourly, _ = CrontabSchedule.objects.get_or_create(
        minute="5", hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
    )
    PeriodicTask.objects.get_or_create(
        name=CYCLE,
        defaults={"task": "collection.tasks.run_collection_cycle", "crontab": nightly,
                  "description": "Re-age the portfolio, open, resolve and move cases, take the daily snapshot."},
    )
    PeriodicTask.objects.get_or_create(
        name=DISPATCH,
        defaults={"task": "collection.tasks.dispatch_reminders", "interval": every_15_minutes,
                  "description": "Plan today's due reminders and send the queued messages whose time has come."},
    )
    PeriodicTask.objects.get_or_create(
        name=PROMISES,
        defaults={"task": "collection.tasks.evaluate_promises", "crontab": hourly,
                  "description": "Settle promises and plan installments whose window has closed."},
    )
    # Tell a running beat that its schedule changed.
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=NAMES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("collection", "0005_routing_jobs_messages"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
