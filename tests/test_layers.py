"""Imports run downward only (issue 12, item 1; docs/architecture.md "Layers").

From the ground up: practices -> referrals -> alerts -> communications -> analytics ->
portability; config/ (settings, URLs, Celery, the database backend) frames them all. An app
may import from the apps below it, never from one above, and the modules of an app import
each other without cycles. Two checks hold the line:

- Python imports, those inside functions included: the import-linter contracts in
  pyproject.toml ([tool.importlinter]), run here as `lint-imports` would run them
  (`.venv/bin/lint-imports` by hand).
- Templates: a template of an app loads tag libraries and includes or extends templates
  of its own app or of apps below it only (no Python import shows those).

Each check is also run over a small bad tree, so a check that quietly stopped checking
would fail here too.
"""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"


def importlinter_config() -> dict:
    return tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]


def layers_from_ground() -> list[str]:
    (contract,) = [c for c in importlinter_config()["contracts"] if c["type"] == "layers"]
    return list(reversed(contract["layers"]))


def lint_imports(cwd: Path, config: Path = PYPROJECT) -> subprocess.CompletedProcess:
    # A process of its own: import-linter puts its working directory on sys.path and
    # builds the graph from the files there. --no-cache: nothing written into the tree.
    code = "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"
    return subprocess.run(
        [sys.executable, "-c", code, "--config", str(config), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_apps_import_only_downward_and_their_modules_have_no_cycles():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_contracts_fail_on_an_upward_import_inside_a_function_and_on_a_cycle(tmp_path):
    """The same contracts over a small tree of the same packages with the two faults this
    issue found: a function-level import reaching up (practices -> referrals) and services
    importing the task module that imports them (communications)."""
    config = importlinter_config()
    files = {f"{package}/__init__.py": "" for package in config["root_packages"]}
    files |= {
        "referrals/models.py": "class ReferringOffice:\n    pass\n",
        "practices/tasks.py": (
            "def practice_heartbeat(practice_id):\n"
            "    from referrals.models import ReferringOffice\n"
            "    return ReferringOffice\n"
        ),
        "communications/letters.py": (
            "def dispatch(practice_id, letter_id):\n"
            "    from .tasks import send_letter\n"
            "    send_letter.delay(practice_id, letter_id)\n"
        ),
        "communications/tasks.py": "from . import letters\n",
    }
    _write(tmp_path, files)
    contracts = "\n".join(
        "[[tool.importlinter.contracts]]\n"
        + "".join(f"{key} = {_toml(value)}\n" for key, value in contract.items())
        for contract in config["contracts"]
    )
    settings = "".join(
        f"{key} = {_toml(value)}\n" for key, value in config.items() if key != "contracts"
    )
    (tmp_path / "pyproject.toml").write_text(f"[tool.importlinter]\n{settings}\n{contracts}")

    result = lint_imports(tmp_path, tmp_path / "pyproject.toml")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Contracts: 0 kept, 2 broken." in result.stdout
    assert "practices is not allowed to import referrals" in result.stdout
    assert "practices.tasks -> referrals.models (l.2)" in result.stdout
    assert "No cycles are allowed in communications." in result.stdout


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- templates ----------------------------------------------------------------------------

LOAD = re.compile(r"{%-?\s*load\s+(.+?)\s*-?%}")
TEMPLATE_REF = re.compile(r"""{%-?\s*(?:include|extends)\s+["']([^"'/]+)/""")


def template_reach_ups(
    templates: dict[str, str], libraries: dict[str, str], layers: list[str]
) -> list[str]:
    """Every tag library load, include or extends by which a template of an app reaches an
    app above it. ``templates``: {path under a templates folder: text}; ``libraries``:
    {library name: its module}, as Django finds them; ``layers``: from the ground up."""
    rank = {app: n for n, app in enumerate(layers)}
    found = []
    for name, text in sorted(templates.items()):
        owner = name.split("/", 1)[0]
        if owner not in rank:
            continue  # the project's own templates (base.html, includes/): above every app
        for line_no, line in enumerate(text.splitlines(), 1):
            for load in LOAD.finditer(line):
                words = load.group(1).split()
                loaded = words[-1:] if "from" in words else words
                for library in loaded:
                    app = libraries.get(library, "").split(".", 1)[0]
                    if rank.get(app, -1) > rank[owner]:
                        found.append(f"{name}:{line_no} loads {library!r} of {app}")
            for ref in TEMPLATE_REF.finditer(line):
                app = ref.group(1)
                if rank.get(app, -1) > rank[owner]:
                    found.append(f"{name}:{line_no} uses a template of {app}")
    return found


def project_templates() -> dict[str, str]:
    folders = [ROOT / "templates", *(ROOT / app / "templates" for app in layers_from_ground())]
    return {
        path.relative_to(folder).as_posix(): path.read_text(errors="replace")
        for folder in folders
        if folder.is_dir()
        for path in folder.rglob("*")
        if path.is_file() and path.suffix in {".html", ".txt", ".xml", ".svg"}
    }


def installed_libraries() -> dict[str, str]:
    from django.template.backends.django import get_installed_libraries

    return get_installed_libraries()


def test_templates_load_tags_and_templates_only_from_their_app_or_below():
    templates = project_templates()
    assert len([n for n in templates if n.startswith("referrals/")]) > 20  # found them
    assert template_reach_ups(templates, installed_libraries(), layers_from_ground()) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{% load letters %}{% case_letters referral %}", "loads 'letters' of communications"),
        ("{% load humanize referrer_health %}", "loads 'referrer_health' of analytics"),
        ("{% load rate from referrer_health %}", "loads 'referrer_health' of analytics"),
        ('{% include "analytics/board/_head.html" %}', "uses a template of analytics"),
    ],
)
def test_the_template_check_finds_a_reach_up(text, expected):
    templates = {"referrals/offices/detail.html": f"<p>\n{text}\n</p>"}
    found = template_reach_ups(templates, installed_libraries(), layers_from_ground())
    assert found == [f"referrals/offices/detail.html:2 {expected}"]


def test_the_template_check_lets_a_template_use_its_own_app_and_those_below():
    templates = {
        "analytics/board/_results.html": "{% load humanize referrer_health letters inbox %}"
        '{% include "communications/delivery/_status.html" %}',
        "includes/nav.html": "{% load print_queue %}",  # the project's: above every app
    }
    assert template_reach_ups(templates, installed_libraries(), layers_from_ground()) == []
