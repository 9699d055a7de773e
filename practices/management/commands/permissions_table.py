"""Print the role × action table (practices.access.GRANTS) as Markdown.

docs/security.md carries this output under "## Roles"; tests/security/test_roles_doc.py
fails when the two differ, so edit GRANTS and paste this command's output together.
"""

from django.core.management.base import BaseCommand

from practices.access import markdown_table


class Command(BaseCommand):
    help = "Print who may do what (the role × action table) as Markdown, for docs/security.md."

    def handle(self, *args, **options):
        self.stdout.write(markdown_table(), ending="")
