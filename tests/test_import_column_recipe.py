"""The README's recipe "A new import column", followed as written: on a copy of the project, its
snippets are put where it says (the table's column, the migration by scripts/new_migration.py,
the format's Field, the template's header), then the new column comes in by an import, shows on
the Directory's form (AppTest) with its label from the Field table, is saved from the form, and
goes out in the export. Its labels used to be hand-written on the page, so the recipe broke the
Directory with a KeyError; and a recipe that drifts from the code fails here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("app.py", "pyproject.toml", "README.md", "engagement", "app_pages", "ui", "data", "scripts", "static")
PROJECT_HIDDEN = (".streamlit",)

# Run inside the copy: the copy's own code, as a developer who followed the recipe would run it.
DRIVER = """
import csv, sys
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from streamlit.testing.v1 import AppTest
from engagement.interchange import FORMATS, export_all, import_files, template_path
from engagement.store import metadata, open_store, partners

store = open_store(sys.argv[1])
with store.engine.connect() as conn:  # the migration written by the script is the tables' change
    found = compare_metadata(MigrationContext.configure(conn), metadata)
assert [d for d in found if not (d[0] == "remove_table" and d[1].name == "alembic_version")] == [], found
with open(template_path("partners"), encoding="utf-8-sig") as f:
    header = next(csv.reader(f))
assert "website" in header and set(header) <= {f.name for f in FORMATS["partners"]}, header

schools = "school_id,name,postcode\\nS1,Oak Primary,B30 2AA\\n"
rows = "partner_id,school_id,name,category,website\\nP1,S1,Food bank,food bank,https://food.example\\n"
report = import_files(store, [("schools.csv", schools.encode()), ("partners.csv", rows.encode())], actor="recipe")
assert report.ok, report.format()

at = AppTest.from_file("app.py", default_timeout=120)
at.run()
at.switch_page("app_pages/directory.py").run()
assert not at.exception, at.exception
at.selectbox(key="dir_pick").set_value("P1").run()
assert not at.exception, at.exception
box = at.text_input(key="form_website")
assert box.label == "Website", box.label
assert box.value == "https://food.example", box.value
box.set_value("https://food.example/opening-times")
next(b for b in at.button if b.label == "Save").click().run()
assert not at.exception, at.exception
with store.read() as conn:
    assert conn.execute(partners.select()).mappings().one()["website"] == "https://food.example/opening-times"

written = {p.name: p for p in export_all(store, sys.argv[2])}
with open(written["partners.csv"], encoding="utf-8-sig") as f:
    exported = list(csv.DictReader(f))
assert [r["website"] for r in exported] == ["https://food.example/opening-times"], exported
print("recipe followed")
"""


def _recipe() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("**A new import column.**")
    return text[start : text.index("\n\n", start)]


def _insert_after(path: Path, anchor: str, line: str) -> None:
    """``line`` into ``path`` as the next line after the first line holding ``anchor``."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, text in enumerate(lines) if anchor in text)
    indent = re.match(r"\s*", lines[at + 1]).group(0)
    lines.insert(at + 1, f"{indent}{line},\n")
    path.write_text("".join(lines), encoding="utf-8")


def _append_to(path: Path, opening: str, line: str) -> None:
    """``line`` into ``path`` as the last item of the bracket opened on the line holding ``opening``."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, text in enumerate(lines) if opening in text)
    indent = re.match(r"\s*", lines[start]).group(0)
    end = next(i for i in range(start + 1, len(lines)) if re.match(rf"{indent}[)\]}}]", lines[i]))
    item = re.match(r"\s*", lines[end - 1]).group(0)
    lines.insert(end, f"{item}{line},\n")
    path.write_text("".join(lines), encoding="utf-8")


def test_following_the_new_import_column_recipe_puts_the_column_on_the_directory_page(tmp_path):
    recipe = _recipe()
    column = re.search(
        r'add `(Column\("website".*?\))` to the `partners` table in `engagement/store/tables.py`', recipe
    )
    command = re.search(r'`\.venv/bin/python (scripts/new_migration\.py) "([^"]+)"`', recipe)
    field = re.search(
        r'add `(Field\("website".*?\))` to `FORMATS\["partners"\]` in `engagement/interchange.py`', recipe
    )
    assert column and command and field and "data/templates/partners.csv" in recipe, recipe

    copy = tmp_path / "project"
    copy.mkdir()
    for name in PROJECT + PROJECT_HIDDEN:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "secrets.toml"))
        elif source.exists():
            shutil.copy2(source, copy / name)
    env = {**os.environ, "PYTHONPATH": str(copy), "DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}

    # 1. the table's column
    _insert_after(
        copy / "engagement" / "store" / "tables.py", 'Column("partner_id", String(64), primary_key=True)', column[1]
    )
    # 2. the migration, by the script
    run = subprocess.run(
        [sys.executable, command[1], command[2]], cwd=copy, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    migration = Path(run.stdout.strip().splitlines()[-1])
    assert migration.parent == copy / "engagement" / "migrations" / "versions", run.stdout
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", str(migration)], cwd=copy, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr  # CI's check passes on it as written
    # 3. the format's Field
    _append_to(copy / "engagement" / "interchange.py", '"partners": (', field[1])
    # 4. the template's header
    template = copy / "data" / "templates" / "partners.csv"
    text = template.read_text(encoding="utf-8")
    newline = "\r\n" if "\r\n" in text else "\n"
    header, *rows = text.splitlines()
    template.write_text(newline.join([header + ",website", *(row + "," for row in rows if row), ""]), encoding="utf-8")

    run = subprocess.run(
        [sys.executable, "-c", DRIVER, env["DATABASE_URL"], str(tmp_path / "export")],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0 and "recipe followed" in run.stdout, run.stdout[-3000:] + run.stderr[-6000:]
