"""Deadline reminders (legal.reminders): one row per deadline, lead time and legal officer, the
guard that sends each reminder once; and the daily job that sends them, as a django-celery-beat
row at 07:00 Asia/Shanghai (an existing row of the same name is left as the admin set it)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


DEADLINES = "legal: deadline reminders"


def schedule_forwards(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")

    mornings, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="7", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
    )
    PeriodicTask.objects.get_or_create(
        name=DEADLINES,
        defaults={"task": "legal.tasks.legal_deadlines", "crontab": mornings,
                  "description": "E-mail the legal officers the deadlines of their legal cases that are near or passed."},
    )
    # Tell a running beat that its schedule changed.
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def schedule_backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=DEADLINES).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('legal', '0002_roles'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name='DeadlineReminder',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('hearing', 'Hearing'), ('objection', 'Objection period of the payment order'), ('confirmation', 'Judicial confirmation of the mediated agreement'), ('appeal', 'Appeal period of the judgment'), ('enforcement_application', 'Application for enforcement'), ('freeze_renewal', 'Renewal of a freeze'), ('asset_check', 'Six-monthly check for assets'), ('limitation', 'Limitation period of the debt')], max_length=24, verbose_name='kind')),
                ('record_id', models.PositiveBigIntegerField(verbose_name='record')),
                ('due_on', models.DateField(verbose_name='due on')),
                ('days_before', models.PositiveSmallIntegerField(verbose_name='days before')),
                ('planned_at', models.DateTimeField(auto_now_add=True, verbose_name='planned at')),
                ('sent_at', models.DateTimeField(blank=True, null=True, verbose_name='sent at')),
                ('legal_case', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deadline_reminders', to='legal.legalcase', verbose_name='legal case')),
                ('to', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='sent to')),
            ],
            options={
                'verbose_name': 'deadline reminder',
                'verbose_name_plural': 'deadline reminders',
                'indexes': [models.Index(condition=models.Q(('sent_at__isnull', True)), fields=['to'], name='deadline_reminder_unsent_idx')],
                'constraints': [models.UniqueConstraint(fields=('legal_case', 'kind', 'record_id', 'due_on', 'days_before', 'to'), name='deadline_reminder_once')],
            },
        ),
        migrations.RunPython(schedule_forwards, schedule_backwards),
    ]
