"""`manage.py case_machine_diagram`: the case machine as a Mermaid diagram (see collection.diagram)."""

from django.core.management.base import BaseCommand, CommandError

from collection.diagram import DOC_PATH, replace_mermaid_block, state_diagram_mermaid


class Command(BaseCommand):
    help = (
        "Print the collection case machine as a Mermaid stateDiagram-v2, generated from the transitions "
        f"in code; with --write, replace the mermaid block of {DOC_PATH.name} with it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--write",
            action="store_true",
            help=f"Update the diagram in {DOC_PATH} instead of printing it.",
        )

    def handle(self, *args, write, **options):
        diagram = state_diagram_mermaid()
        if not write:
            self.stdout.write(diagram, ending="")
            return
        if not DOC_PATH.exists():
            raise CommandError(f"{DOC_PATH} does not exist: write its explanation first, then run --write.")
        text = DOC_PATH.read_text(encoding="utf-8")
        updated = replace_mermaid_block(text, diagram)
        if updated == text:
            self.stdout.write(f"{DOC_PATH} is up to date.")
            return
        DOC_PATH.write_text(updated, encoding="utf-8")
        self.stdout.write(self.style.SUCCESS(f"Updated the diagram in {DOC_PATH}."))
