"""What the benchmark requests: each changelist plain, searched by each shape, and filtered by each
filter, with terms and values taken from one case in the middle of the database."""

from dataclasses import dataclass

from django.urls import reverse


@dataclass(frozen=True)
class Request:
    changelist: str
    label: str
    url: str
    params: dict


@dataclass(frozen=True)
class Sample:
    """What a desk user would type to find one case: its loan's account number, the borrower's
    national ID number, name and mobile number (as typed: 13800138000, not +8613800138000)."""

    account_number: str
    national_id: str
    name: str
    phone: str
    province: str
    team_id: int | None
    source: str
    blocked_rule: str
    bucket_id: int | None
    product_id: int | None


def sample_from_database() -> Sample:
    from collection.models import CollectionCase, OutboundMessage
    from loans.models import Contact, DelinquencyBucket, Payment, Product

    middle = CollectionCase.objects.order_by("pk").values_list("pk", flat=True)
    count = middle.count()
    case = None
    if count:
        case_id = middle[count // 2]
        case = CollectionCase.objects.select_related("loan__borrower").get(pk=case_id)
    if case is None:
        raise LookupError("the database holds no collection case: seed it first (manage.py seed_demo)")
    loan, borrower = case.loan, case.loan.borrower
    mobile = (
        Contact.objects.filter(borrower=borrower, kind=Contact.Kind.MOBILE).order_by("pk").first()
        or Contact.objects.filter(borrower=borrower).exclude(kind=Contact.Kind.EMAIL).order_by("pk").first()
    )
    phone = mobile.value.removeprefix("+86") if mobile else "13800138000"
    payment = Payment.objects.filter(loan=loan).order_by("pk").first() or Payment.objects.order_by("pk").first()
    blocked = OutboundMessage.objects.exclude(blocked_rule="").values_list("blocked_rule", flat=True).first()
    worst_bucket = DelinquencyBucket.objects.order_by("-min_dpd").first()
    product = Product.objects.order_by("code").first()
    return Sample(
        account_number=loan.account_number,
        national_id=borrower.national_id,
        name=borrower.name,
        phone=phone,
        province=borrower.province,
        team_id=case.team_id,
        source=payment.source if payment else "manual",
        blocked_rule=blocked or "quiet_hours",
        bucket_id=worst_bucket.pk if worst_bucket else None,
        product_id=product.pk if product else None,
    )


def searches(sample: Sample) -> list[tuple[str, str]]:
    return [
        ("search account number", sample.account_number),
        ("search account start", sample.account_number[:-4]),
        ("search national ID", sample.national_id),
        ("search phone", sample.phone),
        ("search phone start", sample.phone[:7]),
        ("search name", sample.name),
        ("search family name", sample.name[:1]),
    ]


def filters(sample: Sample) -> dict[str, list[tuple[str, dict]]]:
    """Each changelist's filters, by the query string the admin's filter links use."""
    return {
        "loans": [
            ("filter status", {"status__exact": "delinquent"}),
            ("filter bucket", {"bucket__id__exact": sample.bucket_id}),
            ("filter product", {"product__id__exact": sample.product_id}),
        ],
        "borrowers": [
            ("filter lost contact", {"lost_contact__exact": "1"}),
            ("filter province", {"province": sample.province}),
        ],
        "contacts": [
            ("filter kind", {"kind__exact": "employer"}),
            ("filter verification", {"verification__exact": "wrong"}),
            ("filter do not contact", {"do_not_contact__exact": "1"}),
            ("filter opted out of SMS", {"opt_out_sms__exact": "1"}),
        ],
        "cases": [
            ("filter stage", {"stage__exact": "negotiation"}),
            ("filter team", {"team__id__exact": sample.team_id}),
            ("filter hold reason", {"hold_reason__exact": "dispute"}),
        ],
        "attempts": [
            ("filter channel", {"channel__exact": "visit"}),
            ("filter outcome", {"outcome__exact": "promise_to_pay"}),
            ("filter direction", {"direction__exact": "inbound"}),
        ],
        "payments": [
            ("filter channel", {"channel__exact": "cash"}),
            ("filter source", {"source__exact": sample.source}),
        ],
        "messages": [
            ("filter status", {"status__exact": "failed"}),
            ("filter channel", {"channel__exact": "letter"}),
            ("filter blocked rule", {"blocked_rule__exact": sample.blocked_rule}),
        ],
    }


CHANGELISTS = {
    "loans": "admin:loans_loan_changelist",
    "borrowers": "admin:loans_borrower_changelist",
    "contacts": "admin:loans_contact_changelist",
    "cases": "admin:collection_collectioncase_changelist",
    "attempts": "admin:collection_contactattempt_changelist",
    "payments": "admin:loans_payment_changelist",
    "messages": "admin:collection_outboundmessage_changelist",
}


def requests_for(sample: Sample, only: list[str] | None = None) -> list[Request]:
    requests = []
    by_changelist = filters(sample)
    for changelist, url_name in CHANGELISTS.items():
        if only and changelist not in only:
            continue
        url = reverse(url_name)
        requests.append(Request(changelist, "plain", url, {}))
        requests += [Request(changelist, label, url, {"q": term}) for label, term in searches(sample)]
        requests += [
            Request(changelist, label, url, params)
            for label, params in by_changelist[changelist]
            if None not in params.values()
        ]
    return requests
