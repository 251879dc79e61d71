"""Money that cannot be bent: payments are reversed (never deleted or edited), with the reversal
kept as a row of its own; the grants that let a role delete or edit payments, allocations and
installments, or delete loans, are taken back; reversing and approving reversals are granted."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from accounts.roles import grant_role_permissions, revoke_role_permissions

# What 0002 gave the admin role that bends money: payments and allocations deleted or edited,
# schedules added, edited or deleted in the admin, loans deleted with their schedule.
BENDING = {
    "admin": [
        "change_payment",
        "delete_payment",
        "add_paymentallocation",
        "change_paymentallocation",
        "delete_paymentallocation",
        "add_installment",
        "change_installment",
        "delete_installment",
        "delete_loan",
    ],
}
REVERSING = ["reverse_payment", "approve_payment_reversal", "view_paymentreversal"]
GRANTS = {
    "collector": ["view_paymentreversal"],
    "legal_officer": ["view_paymentreversal"],
    "supervisor": REVERSING,
    "admin": REVERSING,
}


def forwards(apps, schema_editor):
    revoke_role_permissions(apps, "loans", BENDING)
    grant_role_permissions(apps, "loans", GRANTS)


def backwards(apps, schema_editor):
    revoke_role_permissions(apps, "loans", GRANTS)
    grant_role_permissions(apps, "loans", BENDING)


class Migration(migrations.Migration):

    dependencies = [
        ('loans', '0008_admin_filter_indexes'),
        ('accounts', '0002_roles'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='payment',
            options={'permissions': [('reverse_payment', 'Can reverse payments'), ('approve_payment_reversal', 'Can approve payment reversals above the threshold')], 'verbose_name': 'payment', 'verbose_name_plural': 'payments'},
        ),
        migrations.AddField(
            model_name='payment',
            name='reversed_at',
            field=models.DateTimeField(blank=True, help_text='When the payment was reversed; a reversed payment counts for nothing (see its reversal).', null=True, verbose_name='reversed at'),
        ),
        migrations.CreateModel(
            name='PaymentReversal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('pending_approval', 'Awaiting approval'), ('reversed', 'Reversed'), ('rejected', 'Rejected')], max_length=16, verbose_name='status')),
                ('reason', models.TextField(verbose_name='reason')),
                ('requested_at', models.DateTimeField(verbose_name='requested at')),
                ('decided_at', models.DateTimeField(blank=True, null=True, verbose_name='approved or rejected at')),
                ('decision_reason', models.TextField(blank=True, verbose_name='reason for the decision')),
                ('reversed_at', models.DateTimeField(blank=True, null=True, verbose_name='reversed at')),
                ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='approved or rejected by')),
                ('payment', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='reversals', to='loans.payment', verbose_name='payment')),
                ('requested_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='requested by')),
            ],
            options={
                'verbose_name': 'payment reversal',
                'verbose_name_plural': 'payment reversals',
                'ordering': ['-requested_at'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('status__in', ['pending_approval', 'reversed'])), fields=('payment',), name='payment_reversal_one_live_per_payment'), models.CheckConstraint(condition=models.Q(models.Q(('reversed_at__isnull', False), ('status', 'reversed')), models.Q(models.Q(('status', 'reversed'), _negated=True), ('reversed_at__isnull', True)), _connector='OR'), name='payment_reversal_reversed_at_matches_status')],
            },
        ),
        migrations.AlterField(
            model_name='paymentallocation',
            name='payment',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='allocations', to='loans.payment', verbose_name='payment'),
        ),
        migrations.RunPython(forwards, backwards),
    ]
