"""The case machine as a Mermaid state diagram, generated from the transitions in code.

docs/case-machine.md carries the diagram; `python manage.py case_machine_diagram --write`
regenerates it there, and a test fails when the two differ."""

import re
from pathlib import Path

from django.conf import settings
from django.utils import translation

from .models import CollectionCase

__all__ = [
    "DOC_PATH",
    "mermaid_block",
    "replace_mermaid_block",
    "state_diagram_mermaid",
    "state_machine_edges",
]

DOC_PATH = Path(settings.BASE_DIR) / "docs" / "case-machine.md"

_ANY_STATE = "*"
_ANY_OTHER_STATE = "+"
_MERMAID_BLOCK = re.compile(r"```mermaid\n(.*?)```", re.DOTALL)


def _stage_field():
    return CollectionCase._meta.get_field("stage")


def _states() -> list[str]:
    return [str(value) for value, _label in _stage_field().choices]


def state_machine_edges() -> list[tuple[str, str, str]]:
    """Every (source, target, transition name) of the case machine, in the order of the states
    (as the stage field lists them), then of the transition names.

    A transition from several states counts once per state, '*' from every state and '+' from
    every state but its target; a transition whose target is the method's return value
    (RETURN_VALUE) counts once per state it may return."""
    field = _stage_field()
    states = _states()
    edges: set[tuple[str, str, str]] = set()
    for transition in field.get_all_transitions(CollectionCase):
        targets = getattr(transition.target, "allowed_states", None) or [transition.target]
        for target in targets:
            if transition.source == _ANY_STATE:
                sources = states
            elif transition.source == _ANY_OTHER_STATE:
                sources = [state for state in states if state != target]
            else:
                sources = [transition.source]
            for source in sources:
                # A transition without a target leaves the state as it is.
                edges.add((str(source), str(target if target is not None else source), transition.name))
    order = {state: index for index, state in enumerate(states)}
    return sorted(edges, key=lambda edge: (order[edge[0]], order[edge[1]], edge[2]))


def state_diagram_mermaid() -> str:
    """The case machine as a Mermaid `stateDiagram-v2`: each state with its English label, the
    initial state (the field's default), every transition labelled with its name, and the
    states no transition leaves marked as final. The same code always gives the same text."""
    field = _stage_field()
    edges = state_machine_edges()
    with translation.override("en"):
        labels = {str(value): str(label) for value, label in field.choices}
    leaving = {source for source, _target, _name in edges}
    lines = ["stateDiagram-v2"]
    lines += [f"    {state} : {labels[state]}" for state in _states()]
    lines.append(f"    [*] --> {field.get_default()}")
    lines += [f"    {source} --> {target} : {name}" for source, target, name in edges]
    lines += [f"    {state} --> [*]" for state in _states() if state not in leaving]
    return "\n".join(lines) + "\n"


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
