"""What every state machine of the desk shares, for any django-fsm model: a transition declared
with its words and logged with its actor and reason, conditions written once for one row and for a
set, running a transition through a service, applying it to a set of rows at once, and drawing the
machine for its document.

A machine's model has a protected FSMField and ConcurrentTransitionMixin; its transitions are
declared with `logged_transition` and change fields only; its conditions are `Condition`s."""

import datetime
import re
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q, QuerySet
from django.utils import translation
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, Transition, TransitionNotAllowed
from django_fsm import transition as fsm_transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description
from django_fsm_log.models import StateLog

from .exceptions import CollectionError, StaleCase

__all__ = ["MACHINES", "Condition", "Machine", "logged_transition", "mermaid_block", "replace_mermaid_block"]

# Every machine of the desk by its model's label ("collection.CollectionCase"), as each declares
# itself: what draws the diagrams finds them here without importing the apps built on collection.
MACHINES: dict[str, "Machine"] = {}


class Condition:
    """A transition condition, written once as a pair: `test(row)` decides for one row,
    `filter(model)` is the same rule as a filter on the model's rows, for applying the transition
    to a set. `unmet` says in words what is missing when it does not hold. A machine's tests check
    that both halves agree."""

    def __init__(self, name: str, *, test: Callable[[models.Model], bool], filter: Callable[[type], Q], unmet: str):
        self.__name__ = name  # django-fsm and django-fsm-log name a condition by it
        self.test = test
        self.filter = filter
        self.unmet = unmet

    def __call__(self, row: models.Model) -> bool:
        return self.test(row)

    def __repr__(self) -> str:
        return f"<Condition {self.__name__}>"


def logged_transition(*, field: str, source, target, permission: str, action: str, conditions=(), **custom):
    """django-fsm's `transition`, with the actor (`by=`) and the reason (`description=`) written to
    the transition log (django-fsm-log). `action` says what the transition does, in words for
    messages ("escalate the case"); other keyword arguments are kept as the transition's custom
    data (see Machine.custom)."""

    def decorate(method):
        declared = fsm_transition(
            field=field,
            source=source,
            target=target,
            permission=permission,
            conditions=list(conditions),
            custom={"action": action, **custom},
        )(method)
        return fsm_log_by(fsm_log_description(declared))

    return decorate


class Machine:
    """One model's state machine, read from its django-fsm transitions.

    `model` is "app_label.ModelName" (resolved when first used, so that the models module can
    import the module that declares the machine); `entering(target, at)` gives the fields that
    entering a state writes besides the state itself; `doc` is the Markdown document that carries
    the machine's diagram."""

    def __init__(
        self,
        *,
        model: str,
        field: str,
        doc: Path,
        entering: Callable[[str, datetime.datetime], dict] = lambda target, at: {},
    ):
        self._model_label = model
        self.field_name = field
        self.doc = doc
        self.entering = entering
        MACHINES[model] = self

    @cached_property
    def model(self) -> type[models.Model]:
        return apps.get_model(self._model_label)

    @property
    def field(self):
        return self.model._meta.get_field(self.field_name)

    # --- what the machine declares -------------------------------------------------------------

    def transitions(self, name: str) -> list[Transition]:
        """The definitions of one transition, one per source state."""
        return list(getattr(self.model, name)._django_fsm.transitions.values())

    def transition_names(self) -> list[str]:
        return sorted({transition.name for transition in self.field.get_all_transitions(self.model)})

    def custom(self, name: str, key: str, default=None):
        """What the transition's declaration keeps under `key` (logged_transition's keywords)."""
        return self.transitions(name)[0].custom.get(key, default)

    def action(self, name: str) -> str:
        return str(self.custom(name, "action", name))

    def state_label(self, state: str) -> str:
        return str(dict(self.field.flatchoices).get(state, state))

    def conditions_met(self, row: models.Model, name: str) -> bool:
        meta = getattr(self.model, name)._django_fsm
        state = getattr(row, self.field_name)
        return meta.has_transition(state) and meta.conditions_met(row, state)

    def condition_filter(self, transition: Transition) -> Q:
        """The transition's conditions as one filter on the model's rows (all must hold)."""
        combined = Q()
        for condition in transition.conditions:
            combined &= condition.filter(self.model)
        return combined

    # --- running transitions ---------------------------------------------------------------------

    def run(self, row: models.Model, name: str, *, by, reason: str = "", **kwargs) -> models.Model:
        """Run transition `name` on one row for `by`, then save it, in the caller's transaction.
        Refused in words when the row's state has no such move (CollectionError), when `by` lacks
        its permission (PermissionDenied) or when a condition does not hold (CollectionError,
        naming each unmet condition); a row someone else moved first raises StaleCase."""
        method = getattr(row, name)
        meta = method._django_fsm
        state = getattr(row, self.field_name)
        action = self.action(name)
        if not meta.has_transition(state):
            raise CollectionError(
                _("Cannot %(action)s: the case is in stage %(stage)s.")
                % {"action": action, "stage": self.state_label(state)}
            )
        if not meta.has_transition_perm(row, state, by):
            raise PermissionDenied(_("You may not %(action)s.") % {"action": action})
        unmet = [condition for condition in meta.get_transition(state).conditions if not condition(row)]
        if unmet:
            raise CollectionError(
                _("Cannot %(action)s now: %(why)s.")
                % {"action": action, "why": "; ".join(str(condition.unmet) for condition in unmet)}
            )
        try:
            method(by=by, description=reason, **kwargs)
        except TransitionNotAllowed as error:  # the state changed under us in memory
            raise StaleCase() from error
        try:
            row.save()  # ConcurrentTransitionMixin: loses to whoever saved another state first
        except ConcurrentTransition as error:
            raise StaleCase() from error
        return row

    def apply(
        self,
        *,
        rows: QuerySet,
        name: str,
        by,
        reason: str,
        at: datetime.datetime,
        extra: Q | None = None,
    ) -> list[int]:
        """Run transition `name` on every row of `rows` that it allows: in one of its source states,
        its conditions met (each condition's filter) and `extra` (the caller's own criterion). `by`
        must hold its permission. Writes what entering the target writes, and one log row per row
        moved, as `run` does; returns the ids moved. Needs a fixed target. In the caller's
        transaction."""
        content_type = ContentType.objects.get_for_model(self.model)
        transitions = self.transitions(name)  # one per source state
        allowed = Q(pk__in=[])
        for transition in transitions:
            if not isinstance(transition.target, str):
                raise ValueError(f"{name} has no fixed target: it cannot be applied to a set")
            if not transition.has_perm(None, by):
                raise PermissionDenied(f"{by} may not run {name}")
            allowed |= Q(**{self.field_name: transition.source}) & self.condition_filter(transition)
        # One read of every row that may move, from whichever source; locked while they move, so
        # that a concurrent save of one of them loses (StaleCase).
        candidates = rows.filter(allowed & (extra or Q())).select_for_update(of=("self",)).order_by("pk")
        found = list(candidates.values_list("pk", self.field_name))
        if not found:
            return []
        target_of = {transition.source: transition.target for transition in transitions}
        by_target: dict[str, list[int]] = {}
        for row_id, source in found:
            by_target.setdefault(target_of[source], []).append(row_id)
        for target, ids in by_target.items():
            self.model.objects.filter(pk__in=ids).update(**{self.field_name: target}, **self.entering(target, at))
        StateLog.objects.bulk_create(
            [
                StateLog(
                    timestamp=at,
                    by=by,
                    source_state=source,
                    state=target_of[source],
                    transition=name,
                    content_type=content_type,
                    object_id=row_id,
                    description=reason,
                )
                for row_id, source in found
            ],
            batch_size=2000,
        )
        return [row_id for row_id, _source in found]

    # --- the diagram -----------------------------------------------------------------------------

    def states(self) -> list[str]:
        return [str(value) for value, _label in self.field.choices]

    def edges(self) -> list[tuple[str, str, str]]:
        """Every (source, target, transition name), in the order of the states (as the field lists
        them), then of the names. A transition from several states counts once per state, '*' from
        every state and '+' from every state but its target; a transition whose target is the
        method's return value (RETURN_VALUE) once per state it may return."""
        states = self.states()
        edges: set[tuple[str, str, str]] = set()
        for declared in self.field.get_all_transitions(self.model):
            for target in getattr(declared.target, "allowed_states", None) or [declared.target]:
                if declared.source == "*":
                    sources = states
                elif declared.source == "+":
                    sources = [state for state in states if state != target]
                else:
                    sources = [declared.source]
                for source in sources:
                    # A transition without a target leaves the state as it is.
                    edges.add((str(source), str(target if target is not None else source), declared.name))
        order = {state: index for index, state in enumerate(states)}
        return sorted(edges, key=lambda edge: (order[edge[0]], order[edge[1]], edge[2]))

    def mermaid(self) -> str:
        """The machine as a Mermaid `stateDiagram-v2`: each state with its English label, the
        initial state (the field's default), every transition labelled with its name, the states
        no transition leaves marked final. The same code always gives the same text."""
        edges = self.edges()
        with translation.override("en"):
            labels = {str(value): str(label) for value, label in self.field.choices}
        leaving = {source for source, _target, _name in edges}
        lines = ["stateDiagram-v2"]
        lines += [f"    {state} : {labels[state]}" for state in self.states()]
        lines.append(f"    [*] --> {self.field.get_default()}")
        lines += [f"    {source} --> {target} : {name}" for source, target, name in edges]
        lines += [f"    {state} --> [*]" for state in self.states() if state not in leaving]
        return "\n".join(lines) + "\n"


_MERMAID_BLOCK = re.compile(r"```mermaid\n(.*?)```", re.DOTALL)


def mermaid_block(text: str) -> str | None:
    """The content of the first ```mermaid block of a Markdown text, or None."""
    match = _MERMAID_BLOCK.search(text)
    return match.group(1) if match else None


def replace_mermaid_block(text: str, diagram: str) -> str:
    """The Markdown text with its first ```mermaid block replaced by the diagram (appended at the
    end when it has none)."""
    block = f"```mermaid\n{diagram}```"
    if _MERMAID_BLOCK.search(text) is None:
        return f"{text.rstrip()}\n\n{block}\n"
    return _MERMAID_BLOCK.sub(lambda _match: block, text, count=1)
