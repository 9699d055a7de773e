"""docs/security.md and the code read the same role table: the doc's copy under "## Roles"
is exactly what ``manage.py permissions_table`` prints from ``practices.access.GRANTS``."""

from io import StringIO
from pathlib import Path

from django.core.management import call_command

from practices.access import GRANTS, Action, markdown_table
from practices.models import Role

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def roles_section_table(text: str) -> str:
    """The first Markdown table under the "## Roles" heading."""
    section = text.split("\n## Roles\n", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end]) + "\n"


def test_the_command_prints_the_table():
    out = StringIO()
    call_command("permissions_table", stdout=out)
    assert out.getvalue() == markdown_table()
    assert out.getvalue().count("\n") == len(Action) + 2


def test_security_doc_shows_the_table_the_code_enforces():
    assert roles_section_table(DOC.read_text()) == markdown_table(), (
        "docs/security.md's role table differs from practices/access.py: paste the output "
        "of `manage.py permissions_table` under '## Roles'."
    )


def test_a_changed_grant_no_longer_matches_the_doc(monkeypatch):
    # The property the test above relies on: editing GRANTS without the doc fails it.
    monkeypatch.setitem(GRANTS, Role.FRONT_DESK, GRANTS[Role.FRONT_DESK] | {Action.VIEW_MONEY})
    assert roles_section_table(DOC.read_text()) != markdown_table()


def test_every_role_has_a_column_and_the_admin_may_do_everything():
    assert set(Role.values) <= set(GRANTS)
    assert GRANTS[Role.ADMIN] == frozenset(Action)
