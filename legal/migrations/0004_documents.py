"""Letters and documents of the legal track: letter templates (kept by admins, read by legal
officers), the documents of a legal case (added by legal officers and admins, read by supervisors
of the case's team too), and a lawyer's letter and a demand notice to start from."""

import django.db.models.deletion
import legal.models
from django.conf import settings
from django.db import migrations, models

from accounts.roles import grant_role_permissions, revoke_role_permissions

GRANTS = {
    "legal_officer": ["view_legaldocument", "add_legaldocument", "view_lettertemplate"],
    "supervisor": ["view_legaldocument"],
    "admin": [
        "view_legaldocument",
        "add_legaldocument",
        *(f"{action}_lettertemplate" for action in ("view", "add", "change", "delete")),
    ],
}

LAWYER_LETTER_ZH = """{{ borrower_name }}：

本所受{{ company }}委托，就您名下贷款（账号 {{ account_number }}）逾期未还一事致函如下。

截至{{ today }}，该贷款已逾期 {{ days_past_due }} 天，逾期金额 {{ amount_overdue }}。您所欠款项明细如下：
{{ claim_items }}

请您于{{ deadline }}前将上述款项 {{ claim_total }} 归还至原还款账户，或致电 {{ hotline }} 协商还款方案。逾期未还的，本所将依法代理委托人向人民法院提起诉讼或申请支付令，由此产生的诉讼费用等将依法由您承担。

特此函告。"""

LAWYER_LETTER_EN = """Dear {{ borrower_name }},

We act for {{ company }} in respect of your loan, account {{ account_number }}, which is overdue.

As of {{ today }} the loan is {{ days_past_due }} days past due, with {{ amount_overdue }} overdue. The debt is:
{{ claim_items }}

Please repay {{ claim_total }} to your usual repayment account by {{ deadline }}, or call {{ hotline }} to agree a repayment plan. Failing that, we shall on our client's behalf apply to the people's court for a payment order or file suit, and the costs may be awarded against you."""

DEMAND_NOTICE_ZH = """{{ borrower_name }}：

您在{{ company }}的贷款（账号 {{ account_number }}）已逾期 {{ days_past_due }} 天，逾期金额 {{ amount_overdue }}。欠款明细如下：
{{ claim_items }}

请于{{ deadline }}前还款。如有困难，请致电 {{ hotline }} 与我们协商。"""

DEMAND_NOTICE_EN = """Dear {{ borrower_name }},

Your loan with {{ company }}, account {{ account_number }}, is {{ days_past_due }} days past due, with {{ amount_overdue }} overdue. The debt is:
{{ claim_items }}

Please repay by {{ deadline }}. If you are in difficulty, call us on {{ hotline }}."""

DEFAULT_TEMPLATES = [
    ("lawyer_letter", "律师函（标准）", LAWYER_LETTER_ZH, LAWYER_LETTER_EN),
    ("demand_notice", "催收通知函（标准）", DEMAND_NOTICE_ZH, DEMAND_NOTICE_EN),
]


def forwards(apps, schema_editor):
    grant_role_permissions(apps, "legal", GRANTS)
    LetterTemplate = apps.get_model("legal", "LetterTemplate")
    for kind, name, body_zh_hans, body_en in DEFAULT_TEMPLATES:
        LetterTemplate.objects.get_or_create(
            name=name, defaults={"kind": kind, "body_zh_hans": body_zh_hans, "body_en": body_en}
        )


def backwards(apps, schema_editor):
    revoke_role_permissions(apps, "legal", GRANTS)


class Migration(migrations.Migration):

    dependencies = [
        ('collection', '0017_dashboard_filed_days'),
        ('legal', '0003_deadline_reminders'),
        ('accounts', '0002_roles'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='LetterTemplate',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('lawyer_letter', "Lawyer's letter"), ('demand_notice', 'Demand notice')], max_length=16, verbose_name='kind')),
                ('name', models.CharField(max_length=120, unique=True, verbose_name='name')),
                ('body_zh_hans', models.TextField(verbose_name='text (Chinese)')),
                ('body_en', models.TextField(blank=True, help_text='Empty: the letter is sent in Chinese only.', verbose_name='text (English)')),
                ('active', models.BooleanField(default=True, verbose_name='in use')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
            ],
            options={
                'verbose_name': 'letter template',
                'verbose_name_plural': 'letter templates',
                'ordering': ['kind', 'name'],
            },
        ),
        migrations.CreateModel(
            name='LegalDocument',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('filing', 'Filing'), ('ruling', 'Ruling'), ('judgment', 'Judgment'), ('receipt', 'Receipt'), ('letter', 'Letter'), ('other', 'Other')], max_length=16, verbose_name='kind')),
                ('file', models.FileField(max_length=200, storage=legal.models.LegalDocumentStorage(), upload_to=legal.models._document_path, verbose_name='file')),
                ('original_name', models.CharField(max_length=255, verbose_name='original name')),
                ('content_type', models.CharField(choices=[('application/pdf', 'PDF'), ('image/jpeg', 'JPEG'), ('image/png', 'PNG')], max_length=32, verbose_name='content type')),
                ('size', models.PositiveBigIntegerField(verbose_name='size (bytes)')),
                ('sha256', models.CharField(max_length=64, verbose_name='SHA-256')),
                ('uploaded_at', models.DateTimeField(auto_now_add=True, verbose_name='uploaded at')),
                ('language', models.CharField(blank=True, max_length=8, verbose_name='language')),
                ('attempt', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='legal_document', to='collection.contactattempt', verbose_name='contact attempt')),
                ('legal_case', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='documents', to='legal.legalcase', verbose_name='legal case')),
                ('uploaded_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='uploaded by')),
                ('template', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='documents', to='legal.lettertemplate', verbose_name='letter template')),
            ],
            options={
                'verbose_name': 'legal document',
                'verbose_name_plural': 'legal documents',
                'ordering': ['-uploaded_at', '-pk'],
                'indexes': [models.Index(fields=['legal_case', 'uploaded_at'], name='legal_document_case_idx')],
                'constraints': [models.CheckConstraint(condition=models.Q(('size__gt', 0)), name='legal_document_not_empty'), models.CheckConstraint(condition=models.Q(('kind', 'letter'), ('template__isnull', True), _connector='OR'), name='legal_document_template_is_letter')],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
