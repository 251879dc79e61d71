"""Settlements record who agreed them, keep their history (a SettlementAgreement row each, never
overwritten), and wait for a supervisor's approval below the approval share; supervisors and
admins may approve them, and every role may read the history of the cases it sees."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from accounts.roles import grant_role_permissions, revoke_role_permissions

GRANTS = {
    "collector": ["view_settlementagreement"],
    "legal_officer": ["view_settlementagreement"],
    "supervisor": ["view_settlementagreement", "approve_settlement"],
    "admin": ["view_settlementagreement", "approve_settlement"],
}


def forwards(apps, schema_editor):
    grant_role_permissions(apps, "collection", GRANTS)


def backwards(apps, schema_editor):
    revoke_role_permissions(apps, "collection", GRANTS)


class Migration(migrations.Migration):

    dependencies = [
        ('collection', '0011_system_account_cannot_log_in'),
        ('accounts', '0002_roles'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='collectioncase',
            options={'permissions': [('work_case', 'Can work collection cases'), ('escalate_case', 'Can escalate collection cases'), ('litigate_case', 'Can send collection cases to litigation'), ('hold_case', 'Can put collection cases on hold and resume them'), ('settle_case', 'Can settle collection cases'), ('write_off_case', 'Can write off collection cases'), ('close_case', 'Can close collection cases'), ('assign_case', 'Can assign collection cases'), ('decide_escalation', 'Can approve or reject escalation requests'), ('approve_plan', 'Can approve repayment plans beyond policy'), ('approve_settlement', 'Can approve settlements below the approval share')], 'verbose_name': 'collection case', 'verbose_name_plural': 'collection cases'},
        ),
        migrations.AddField(
            model_name='collectioncase',
            name='settlement_agreed_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='settlement agreed by'),
        ),
        migrations.AddField(
            model_name='collectioncase',
            name='settlement_awaits_approval',
            field=models.BooleanField(db_default=False, default=False, help_text='The settlement discounts more than policy allows: a supervisor must approve it before it settles.', verbose_name='settlement awaits approval'),
        ),
        migrations.CreateModel(
            name='SettlementAgreement',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('pending_approval', 'Awaiting approval'), ('agreed', 'Agreed'), ('replaced', 'Replaced'), ('rejected', 'Rejected')], max_length=16, verbose_name='status')),
                ('amount', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='settlement amount')),
                ('outstanding', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='outstanding when agreed')),
                ('agreed_at', models.DateTimeField(verbose_name='agreed at')),
                ('needs_approval', models.BooleanField(default=False, verbose_name='needs approval')),
                ('approved_at', models.DateTimeField(blank=True, null=True, verbose_name='approved at')),
                ('ended_at', models.DateTimeField(blank=True, null=True, verbose_name='replaced or rejected at')),
                ('end_reason', models.TextField(blank=True, verbose_name='why it was replaced or rejected')),
                ('agreed_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='agreed by')),
                ('approved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='approved by')),
                ('case', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='settlements', to='collection.collectioncase', verbose_name='case')),
                ('ended_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='replaced or rejected by')),
            ],
            options={
                'verbose_name': 'settlement agreement',
                'verbose_name_plural': 'settlement agreements',
                'ordering': ['-agreed_at', '-pk'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('status__in', ['pending_approval', 'agreed'])), fields=('case',), name='settlement_one_on_the_table_per_case'), models.CheckConstraint(condition=models.Q(('amount__gt', 0)), name='settlement_amount_positive')],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
