"""The page registry: the one list of pages that app.py, the access rules and the tests read. A
page without roles, a file left out of the registry, or a page with a missing file stops the app at
start with a message naming it; the menu each role gets is exactly the registry's."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engagement import access, pages
from engagement.pages import PAGES, Page, RegistryError, check_registry

ROOT = Path(__file__).resolve().parent.parent


def test_the_registry_is_consistent_and_names_every_page_file():
    assert check_registry() == PAGES
    assert pages.unregistered_files() == []
    assert {p.file for p in PAGES} == {f"app_pages/{f.name}" for f in (ROOT / "app_pages").glob("*.py")}


@pytest.mark.parametrize("entry", PAGES, ids=lambda p: p.key)
def test_access_follows_the_registry_for_every_role(entry):
    for role in pages.ROLES:
        assert access.can_open(role, entry.key) is (role in entry.roles)
    assert not access.can_open(None, entry.key)


def test_a_page_without_roles_is_a_startup_error():
    forgotten = Page("help", "app_pages/help.py", "Help", ":material/help:", frozenset())
    with pytest.raises(RegistryError, match="'help' has no roles"):
        check_registry([*PAGES, forgotten])


def test_unknown_roles_duplicates_missing_files_and_defaults_are_refused():
    with pytest.raises(RegistryError, match="unknown roles superuser"):
        check_registry([*PAGES, Page("x", "app_pages/x.py", "X", "", frozenset({"superuser"}))])
    with pytest.raises(RegistryError, match="registered twice"):
        check_registry([*PAGES, PAGES[1]])
    with pytest.raises(RegistryError, match="does not exist"):
        check_registry([*PAGES, Page("ghost", "app_pages/ghost.py", "Ghost", "", frozenset({"admin"}))])
    with pytest.raises(RegistryError, match="exactly one page must be the default"):
        check_registry([p for p in PAGES if not p.default])
    with pytest.raises(RegistryError, match=r"app_pages/audit\.py is not in the page registry"):
        check_registry([p for p in PAGES if p.key != "audit"])


def _app(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()


def test_the_app_refuses_to_start_with_a_page_without_roles(tmp_path, monkeypatch):
    broken = tuple(Page(p.key, p.file, p.title, p.icon, frozenset()) if p.key == "data" else p for p in PAGES)
    monkeypatch.setattr(pages, "PAGES", broken)
    at = _app(tmp_path, monkeypatch)
    assert not at.exception
    assert [e.value for e in at.error] == [
        "The app cannot start: page 'data' has no roles: nobody could open it. Give it roles in engagement/pages.py."
    ]
    assert not at.title  # nothing else is served


def test_the_app_refuses_to_start_with_a_page_file_left_out(tmp_path, monkeypatch):
    monkeypatch.setattr(pages, "PAGES", tuple(p for p in PAGES if p.key != "audit"))
    at = _app(tmp_path, monkeypatch)
    assert "app_pages/audit.py is not in the page registry" in at.error[0].value


def _bare_expressions(source: str) -> list[str]:
    """Statements that are a value on their own (not a call, nor a docstring): what Streamlit's
    "magic" would write on the page."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        for i, statement in enumerate(body if isinstance(body, list) else []):
            value = getattr(statement, "value", None)
            if not isinstance(statement, ast.Expr) or isinstance(value, ast.Call | ast.Await | ast.Yield):
                continue
            if i == 0 and isinstance(value, ast.Constant) and isinstance(value.value, str):
                continue  # a docstring
            found.append(f"line {statement.lineno}: {ast.unparse(statement)[:60]}")
    return found


def test_magic_is_off_and_no_page_counts_on_it():
    """.streamlit/config.toml turns "magic" off (a run skips rewriting the script); a bare value on
    a page would then show nothing, so no page may hold one."""
    import tomllib

    assert tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["runner"]["magicEnabled"] is False
    assert _bare_expressions("'''doc'''\nimport x\nx.y\nf(1)\n") == ["line 3: x.y"]
    scripts = [ROOT / "app.py", *sorted((ROOT / "app_pages").glob("*.py"))]
    assert {str(p.relative_to(ROOT)): _bare_expressions(p.read_text()) for p in scripts} == {
        str(p.relative_to(ROOT)): [] for p in scripts
    }


def _tables_not_through_ui(source: str) -> list[str]:
    """Lines where a script shows a table other than through ui.dataframe: ``st.dataframe``, a
    column's or the sidebar's ``.dataframe``, or ``dataframe`` imported from Streamlit."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "dataframe" and ast.unparse(node.value) != "ui":
            found.append(f"line {node.lineno}")
        elif isinstance(node, ast.ImportFrom) and node.module == "streamlit":
            found += [f"line {node.lineno}" for alias in node.names if alias.name == "dataframe"]
    return sorted(found, key=lambda line: int(line.split()[1]))


def test_every_table_shows_a_missing_value_as_a_dash():
    """Tables go through ui.dataframe, which shows a missing value as "–" (Streamlit's grey "None"
    under "Raised" reads as nothing raised); no page or ui module shows one another way."""
    from ui import tables

    assert _tables_not_through_ui(
        "left, right = st.columns(2)\nleft.dataframe(x)\nui.dataframe(x)\nst.sidebar.dataframe(x)\n"
        "from streamlit import dataframe\n"
    ) == ["line 2", "line 4", "line 5"]
    scripts = [ROOT / "app.py", *sorted((ROOT / "app_pages").glob("*.py")), *sorted((ROOT / "ui").glob("*.py"))]
    found = {str(p.relative_to(ROOT)): _tables_not_through_ui(p.read_text()) for p in scripts if p.name != "tables.py"}
    assert {path: lines for path, lines in found.items() if lines} == {}
    assert tables.MISSING == "–"
