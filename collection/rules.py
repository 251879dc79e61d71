"""Checks on the stage rules as a set, in words an admin can act on."""

from django.utils.translation import gettext as _

from .models import WORKING_STAGES, Stage


def stage_rules_problems(rules_by_stage: dict) -> list[str]:
    """What is wrong with a set of stage rules (one per stage), or an empty list.

    Entry thresholds must increase from stage to stage, a stage must not move cases on before
    they would enter it, and the last stage has nowhere to move them."""
    problems: list[str] = []
    ordered = [rules_by_stage[stage] for stage in WORKING_STAGES if stage in rules_by_stage]
    previous = None
    last_entered = None  # the nearest earlier stage entered by DPD (negotiation is entered on contact)
    for rule in ordered:
        label = Stage(rule.stage).label
        if rule.entry_dpd is not None and last_entered is not None and rule.entry_dpd <= last_entered.entry_dpd:
            problems.append(
                _(
                    "%(stage)s starts at DPD %(dpd)s, but %(previous)s already starts at DPD %(previous_dpd)s: "
                    "each stage must start later than the one before."
                )
                % {
                    "stage": label,
                    "dpd": rule.entry_dpd,
                    "previous": Stage(last_entered.stage).label,
                    "previous_dpd": last_entered.entry_dpd,
                }
            )
        if rule.escalate_at_dpd is not None and rule.entry_dpd is not None and rule.escalate_at_dpd <= rule.entry_dpd:
            problems.append(
                _("%(stage)s moves cases on at DPD %(at)s, which is not after it takes them in at DPD %(dpd)s.")
                % {"stage": label, "at": rule.escalate_at_dpd, "dpd": rule.entry_dpd}
            )
        if rule.stage == WORKING_STAGES[-1] and (
            rule.escalate_at_dpd is not None
            or rule.escalate_after_broken_promises is not None
            or rule.escalate_after_days_without_contact is not None
        ):
            problems.append(
                _("%(stage)s is the last stage: it cannot move cases on, so leave its escalation criteria empty.")
                % {"stage": label}
            )
        if (
            previous is not None
            and previous.escalate_at_dpd is not None
            and rule.escalate_at_dpd is not None
            and rule.escalate_at_dpd < previous.escalate_at_dpd
        ):
            problems.append(
                _(
                    "%(stage)s moves cases on at DPD %(at)s, earlier than %(previous)s (DPD %(previous_at)s): "
                    "thresholds must increase from stage to stage."
                )
                % {
                    "stage": label,
                    "at": rule.escalate_at_dpd,
                    "previous": Stage(previous.stage).label,
                    "previous_at": previous.escalate_at_dpd,
                }
            )
        previous = rule
        if rule.entry_dpd is not None:
            last_entered = rule
    return problems
