"""`manage.py case_machine_diagram`: the case machine as a Mermaid diagram, from its transitions."""

from django.core.management.base import BaseCommand, CommandError

from collection.fsm import replace_mermaid_block
from collection.machine import CASE_MACHINE


class Command(BaseCommand):
    help = (
        "Print the collection case machine as a Mermaid stateDiagram-v2, generated from the transitions "
        f"in code; with --write, replace the mermaid block of {CASE_MACHINE.doc.name} with it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--write",
            action="store_true",
            help=f"Update the diagram in {CASE_MACHINE.doc} instead of printing it.",
        )

    def handle(self, *args, write, **options):
        diagram = CASE_MACHINE.mermaid()
        if not write:
            self.stdout.write(diagram, ending="")
            return
        doc = CASE_MACHINE.doc
        if not doc.exists():
            raise CommandError(f"{doc} does not exist: write its explanation first, then run --write.")
        text = doc.read_text(encoding="utf-8")
        updated = replace_mermaid_block(text, diagram)
        if updated == text:
            self.stdout.write(f"{doc} is up to date.")
            return
        doc.write_text(updated, encoding="utf-8")
        self.stdout.write(self.style.SUCCESS(f"Updated the diagram in {doc}."))
