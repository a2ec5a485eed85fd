"""The architecture, checked: which packages may import which (README, "How it is built").

Data flows one way; a lower layer importing an upper one is how presentation leaks into the data layer. Each
rule lists the modules it covers and the newsbot modules they must not import (a prefix covers submodules).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RULES: dict[str, tuple[str, ...]] = {
    # module or package: imports it must not make
    "summarizer": ("bot", "db", "readmodels"),
    "readmodels": ("bot", "db", "summarizer"),
    "db": ("bot",),
    "bot/render.py": ("db", "bot.services", "bot.commands", "bot.i18n"),
    "bot/telegram_html.py": ("db", "bot.services", "bot.commands", "bot.i18n", "bot.render"),
    "bot/services": (
        "bot.commands",
        "bot.i18n",
        "bot.render",
        "bot.digest_messages",
        "bot.app",
        "bot.console",
        "bot.cli",
        "bot.runner",
        "bot.composition",
    ),
    "bot/commands": ("db", "bot.app", "bot.console", "bot.cli", "bot.runner", "bot.composition", "telegram"),
    "bot/cli.py": ("db",),
    "bot/console.py": ("db",),
    "bot/app.py": ("db",),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules_of(target: str) -> list[Path]:
    path = ROOT / target
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


@pytest.mark.parametrize("target", sorted(RULES))
def test_layer_imports(target: str) -> None:
    forbidden = RULES[target]
    files = modules_of(target)
    assert files, f"{target} has no modules: the rule is stale"
    broken = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in sorted(imported_modules(path))
        if any(name == banned or name.startswith(banned + ".") for banned in forbidden)
    ]
    assert broken == []


def test_the_rules_see_a_violation(tmp_path: Path) -> None:
    """The checker itself: a module importing a forbidden one is reported."""
    module = tmp_path / "leaky.py"
    module.write_text(
        "from db.repositories import latest_articles\nimport bot.render as r\n", encoding="utf-8"
    )
    assert imported_modules(module) == {"db.repositories", "bot.render"}
