from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .selectors import portfolio_by_bucket


@login_required
def portfolio_overview(request):
    buckets = list(portfolio_by_bucket())
    max_count = max((bucket.loan_count for bucket in buckets), default=0) or 1
    return render(request, "loans/portfolio_overview.html", {"buckets": buckets, "max_count": max_count})
