"""The diagram of the case machine in docs/case-machine.md matches the transitions in code."""

import io
import re

import pytest
from django.core.management import call_command
from django.utils import translation

from collection.fsm import mermaid_block, replace_mermaid_block
from collection.machine import CASE_MACHINE
from collection.models import CollectionCase

DOC_PATH = CASE_MACHINE.doc
state_diagram_mermaid = CASE_MACHINE.mermaid
state_machine_edges = CASE_MACHINE.edges

REGENERATE = "python manage.py case_machine_diagram --write"


def transitions():
    return list(CollectionCase._meta.get_field("stage").get_all_transitions(CollectionCase))


def test_the_documented_diagram_matches_the_code():
    documented = mermaid_block(DOC_PATH.read_text(encoding="utf-8"))

    assert documented is not None, f"{DOC_PATH} has no ```mermaid block: run `{REGENERATE}`."
    assert documented == state_diagram_mermaid(), (
        f"The case machine changed and {DOC_PATH.name} no longer shows it: run `{REGENERATE}`, "
        "then update the explanation of the transitions below the diagram."
    )


def test_every_transition_is_explained_with_its_permission():
    text = DOC_PATH.read_text(encoding="utf-8")
    explained = text.split("## Transitions", 1)[1]
    for transition in {t.name: t for t in transitions()}.values():
        entry = re.search(rf"^- `{transition.name}` .*?(?=^- |^## |\Z)", explained, re.MULTILINE | re.DOTALL)
        assert entry, f"{DOC_PATH.name} does not explain the transition `{transition.name}`."
        assert f"`{transition.permission}`" in entry.group(0), (
            f"{DOC_PATH.name} should say that `{transition.name}` needs `{transition.permission}`."
        )


def test_the_diagram_has_an_arrow_per_source_target_and_transition():
    diagram = state_diagram_mermaid()

    for line in (
        "reminder --> negotiation : negotiate",
        "reminder --> escalation : escalate",  # a transition from a list of sources...
        "negotiation --> escalation : escalate",  # ...has an arrow from each
        "escalation --> litigation : litigate",
        "on_hold --> litigation : resume",  # RETURN_VALUE: an arrow to each state it may return
        "on_hold --> reminder : resume",
        "litigation --> written_off : write_off",
    ):
        assert f"    {line}\n" in diagram
    arrows = [line for line in diagram.splitlines() if " : " in line and "-->" in line]
    assert len(arrows) == len(state_machine_edges())


def test_every_transition_of_the_model_is_drawn():
    drawn = {name for _source, _target, name in state_machine_edges()}

    assert drawn == {transition.name for transition in transitions()}
    assert drawn >= {"negotiate", "escalate", "litigate", "de_escalate", "hold", "resume", "resolve"}


def test_the_start_and_the_ends():
    diagram = state_diagram_mermaid()

    assert diagram.startswith("stateDiagram-v2\n")
    assert "    [*] --> reminder\n" in diagram
    for end in ("resolved", "settled", "written_off", "closed"):
        assert f"    {end} --> [*]\n" in diagram
    assert "on_hold --> [*]" not in diagram


def test_the_diagram_is_the_same_whatever_the_language():
    with translation.override("zh-hans"):
        chinese = state_diagram_mermaid()

    assert chinese == state_diagram_mermaid()
    assert "    on_hold : On hold\n" in chinese


def test_the_command_prints_the_diagram():
    out = io.StringIO()

    call_command("case_machine_diagram", stdout=out)

    assert out.getvalue() == state_diagram_mermaid()


@pytest.fixture
def doc_copy(tmp_path, monkeypatch):
    doc = tmp_path / "case-machine.md"
    monkeypatch.setattr(CASE_MACHINE, "doc", doc)
    return doc


def test_the_command_rewrites_only_the_diagram_in_the_doc(doc_copy):
    doc_copy.write_text(
        "# Machine\n\nBefore.\n\n```mermaid\nstateDiagram-v2\n    a --> b : old\n```\n\nAfter.\n", encoding="utf-8"
    )

    call_command("case_machine_diagram", "--write", stdout=io.StringIO())

    text = doc_copy.read_text(encoding="utf-8")
    assert text.startswith("# Machine\n\nBefore.\n\n```mermaid\n")
    assert text.endswith("```\n\nAfter.\n")
    assert mermaid_block(text) == state_diagram_mermaid()


def test_writing_an_up_to_date_doc_changes_nothing(doc_copy):
    doc_copy.write_text(replace_mermaid_block("# Machine\n", state_diagram_mermaid()), encoding="utf-8")
    before = doc_copy.read_text(encoding="utf-8")
    out = io.StringIO()

    call_command("case_machine_diagram", "--write", stdout=out)

    assert doc_copy.read_text(encoding="utf-8") == before
    assert "up to date" in out.getvalue()
