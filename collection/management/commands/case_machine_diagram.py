"""`manage.py case_machine_diagram [--machine MODEL] [--write]`: a state machine of the desk as a
Mermaid diagram, from its transitions (the collection case's unless another model is named)."""

from django.core.management.base import BaseCommand, CommandError

from collection.fsm import MACHINES, replace_mermaid_block

DEFAULT = "collection.CollectionCase"


class Command(BaseCommand):
    help = (
        "Print a state machine of the desk (default the collection case's) as a Mermaid stateDiagram-v2, "
        "generated from the transitions in code; with --write, replace the mermaid block of its document."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--machine",
            default=DEFAULT,
            help=f"The machine's model: {', '.join(sorted(MACHINES)) or DEFAULT} (default {DEFAULT}).",
        )
        parser.add_argument("--write", action="store_true", help="Update the diagram in the machine's document.")

    def handle(self, *args, machine, write, **options):
        if machine not in MACHINES:
            raise CommandError(f"--machine {machine}: the desk's machines are {', '.join(sorted(MACHINES))}.")
        chosen = MACHINES[machine]
        diagram = chosen.mermaid()
        if not write:
            self.stdout.write(diagram, ending="")
            return
        doc = chosen.doc
        if not doc.exists():
            raise CommandError(f"{doc} does not exist: write its explanation first, then run --write.")
        text = doc.read_text(encoding="utf-8")
        updated = replace_mermaid_block(text, diagram)
        if updated == text:
            self.stdout.write(f"{doc} is up to date.")
            return
        doc.write_text(updated, encoding="utf-8")
        self.stdout.write(self.style.SUCCESS(f"Updated the diagram in {doc}."))
