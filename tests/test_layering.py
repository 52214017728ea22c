"""The packages depend one way (DESIGN.md, "Layout"): an import that runs upward fails here.

`cases/` -> `finance/` -> `fundraising/` -> `accounts/` -> `audit/`, `security/` ->
`config.py`, `extensions.py`. A package may import itself and anything below it; `audit/` and
`security/` know no domain and not each other's insides beyond what is listed. Only `app.py`
sees every package, and nothing of the app imports `devtools/`, the development-only Stripe
stand-in. Imports inside functions count as much as those at the top of a file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What each top-level name may import from the project (besides itself).
ALLOWED = {
    "config": set(),
    "extensions": {"security"},
    "security": {"config", "extensions"},
    "audit": {"config", "extensions", "security"},
    "accounts": {"config", "extensions", "security", "audit"},
    "fundraising": {"config", "extensions", "security", "audit", "accounts"},
    "finance": {"config", "extensions", "security", "audit", "accounts", "fundraising"},
    "cases": {"config", "extensions", "security", "audit", "accounts", "fundraising", "finance"},
}
# Development tools (the Stripe stand-in) sit beside the app: they may use it, it never them.
ALLOWED["devtools"] = set()
PROJECT = {*ALLOWED, "app"}


def project_imports(path: Path) -> set[str]:
    """The project's top-level names this file imports (absolute imports only are used)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & PROJECT


def sources() -> list[tuple[str, Path]]:
    found = []
    for owner in ALLOWED:
        folder = ROOT / owner
        files = sorted(folder.rglob("*.py")) if folder.is_dir() else [ROOT / f"{owner}.py"]
        found += [(owner, path) for path in files]
    return found


@pytest.mark.parametrize(("owner", "path"), sources(), ids=lambda value: str(value))
def test_no_import_runs_upward(owner, path):
    upward = project_imports(path) - ALLOWED[owner] - {owner}
    assert not upward, f"{path.relative_to(ROOT)} imports {sorted(upward)}, above {owner}"


def test_the_check_sees_an_upward_import(tmp_path):
    """The walker finds imports at the top and inside functions, in both spellings."""
    module = tmp_path / "sample.py"
    module.write_text(
        "import fundraising.services\n"
        "def late():\n    from cases.access import get_case_for\n    import app\n",
        encoding="utf-8",
    )
    assert project_imports(module) == {"fundraising", "cases", "app"}
