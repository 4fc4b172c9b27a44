"""Files too big, bombs and hostile headers: refused at once with one line, before they are opened,
on the Data page and from the command line; an import report quotes user text as text, cut short."""

from __future__ import annotations

import functools
import io
import os
import resource
import tomllib
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engagement import cli
from engagement.interchange import import_files
from engagement.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def _bomb(unpacked_mb: int = 300) -> bytes:
    """An .xlsx-shaped ZIP whose shared strings unpack to ``unpacked_mb`` MB from a few hundred KB
    (made once: compressing 300 MB takes seconds, and the test runs on each database)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/sharedStrings.xml", "w") as f:
            block = b"A" * 1_000_000
            for _ in range(unpacked_mb):
                f.write(block)
    return buffer.getvalue()


def test_a_decompression_bomb_is_refused_unopened_and_small(store, monkeypatch):
    bomb = _bomb()
    assert len(bomb) < 1_000_000
    # Unopened: no member of the archive is ever read (openpyxl would read them through ZipFile.open).
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(archive, member, *args, **kwargs):
        opened.append(getattr(member, "filename", member))
        return real_open(archive, member, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = import_files(store, [("families.xlsx", bomb)], actor="test")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert not report.ok and len(report.errors) == 1
    assert "would unpack to 300 MB" in report.errors[0].reason and "refused unopened" in report.errors[0].reason
    assert len(report.format()) < 1000
    assert opened == []
    assert grown_mb < 200  # a generous bound: the 300 MB are never unpacked


def test_a_huge_header_is_quoted_short(store):
    header = "family_id," + "X" * 200_000
    report = import_files(store, [("families.csv", f"{header}\nF1,1\n".encode())], actor="test")
    assert len(report.format()) < 2000


def test_a_long_cell_is_refused_with_a_sentence(store):
    limit = load_settings().imports.max_cell_chars
    text = "date,family_id,activity,notes\n2026-09-14,F1,phone call,ok\n2026-09-15,F1,phone call," + "n" * (limit + 5)
    report = import_files(store, [("interactions.csv", text.encode())], actor="test")
    assert not report.ok
    reason = report.errors[0].reason
    assert f"a cell of more than {limit:,} characters" in reason and "field limit" not in reason


def test_a_fifo_or_folder_is_refused_at_once(tmp_path, capsys, monkeypatch):
    fifo = tmp_path / "interactions.csv"
    os.mkfifo(fifo)
    # At once: the FIFO is never opened (opening it would block until some writer came along).
    real_open = io.open

    def guarded_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and Path(file) == fifo:
            raise AssertionError("the FIFO was opened")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    assert cli.main(["import", str(fifo), "--db", str(tmp_path / "s.db")]) == 1
    assert "not a regular file" in capsys.readouterr().err


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path, store, monkeypatch):
    big = tmp_path / "families.csv"
    with open(big, "wb") as f:
        f.truncate(int(load_settings().imports.max_file_mb * 1_000_000) + 1)
    report = import_files(store, [big], actor="test")
    assert "over the limit of" in report.errors[0].reason


def test_the_upload_limit_is_the_settings_limit():
    with open(ROOT / ".streamlit" / "config.toml", "rb") as f:
        server = tomllib.load(f)["server"]
    assert server["maxUploadSize"] == load_settings().imports.max_file_mb


@pytest.mark.parametrize("header", ["![x](http://127.0.0.1:9/t.png)", "[click](https://example.com)", "<b>x</b>"])
def test_the_data_page_shows_a_files_headers_as_text(demo_app_db, header):
    at = AppTest.from_file(str(ROOT / "app_pages" / "data.py"), default_timeout=90).run()
    at.file_uploader(key="records_uploads").set_value(
        [("partners.csv", f"partner_id,name,category,{header}\nP1,Library,library,x\n".encode(), "text/csv")]
    ).run()
    assert not at.exception
    notes = [c.value for c in at.caption if "were ignored" in c.value]
    assert notes, [c.value for c in at.caption]
    # Every markdown character escaped: Streamlit shows the header as written, fetching nothing.
    assert "](" not in notes[0].replace("\\]\\(", "")
