"""Reading a file to import into rows of text cells, as every import engine reads them: CSV in
UTF-8 or Windows-1252 (quoting checked strictly, a broken quote refused with the row where it
opens) or an .xlsx's first sheet, within the size limits of ``[imports]``. A file that cannot be
read raises :class:`Refused`, whose ``row`` and ``column`` say where. Each row comes back as a
spreadsheet numbers it (blank rows included), so that a problem names the row a person sees.

A file on disk is read once, into a snapshot that every check and the parse then read: what is
imported is what was checksummed, and a file that changed while it was read is refused.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import hashlib
import io
import math
import os
import re
import stat
import tempfile
import weakref
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd

from engagement.imports.report import ImportReport, shorten
from engagement.settings import load_settings

# A cell written "" (quoted and empty) while it is read: empty text, not a missing value. The NUL
# character cannot come from a file: a file holding it is refused as binary before it is parsed.
EMPTY_TEXT = "\x00"


class Refused(Exception):
    """A file that cannot be read (on); the message is the reason, ``row`` and ``column`` where."""

    def __init__(self, reason: str, row: int | None = None, column: str | None = None):
        super().__init__(reason)
        self.row, self.column = row, column


@dataclass
class Source:
    """A file of the batch: its name, its size, how to open its bytes (again), and what the pass
    that read them found (``look``; for a path, its snapshot's). Every reader of the file reads
    these same bytes, and ``sha256`` is their checksum."""

    name: str
    size: int
    open: Callable[[], IO[bytes]]
    sha256: str = ""
    look: _Look | None = None


# A snapshot of this many bytes or fewer is held in memory; a larger one in a private temporary file.
_IN_MEMORY = 4_000_000


def open_source(item) -> Source:
    """A file to import: a path, a (name, bytes) pair, or an uploaded file. A path that is not a
    regular file (a FIFO would block for ever) or is over the size limit is refused before a byte
    is read; a path is read once, into a snapshot (:func:`_snapshot`) that the checks and the
    parse then read, so the file may change on disk afterwards without changing the import."""
    if isinstance(item, tuple) or hasattr(item, "getvalue"):
        name, data = (
            (str(item[0]), bytes(item[1])) if isinstance(item, tuple) else (str(item.name), bytes(item.getvalue()))
        )
        return Source(name, len(data), lambda: io.BytesIO(data))
    path = Path(item)
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise Refused("it is not a regular file (a folder, pipe or device): give the path of a CSV or XLSX file")
    _check_size(info.st_size)
    return _snapshot(path)


def _snapshot(path: Path) -> Source:
    """Read the file at ``path`` once, block by block, into memory or (when large) a private
    temporary file, looking at each block as it passes (checksum, encoding). A file that changed
    while it was read (its size or modification time when opened and when read to its end
    differ, or the bytes read are not its size) is refused: a MIS export still being written or
    a folder still syncing would otherwise be imported half as it was and half as it became."""
    scan = _Scan()
    memory: list[bytes] = []  # the blocks, until they are too many to hold
    disk: IO[bytes] | None = None
    spilled: str | None = None
    try:
        with open(path, "rb") as f:
            before = os.fstat(f.fileno())
            while block := f.read(_BLOCK):
                scan.feed(block)
                _check_size(scan.size)
                if disk is None and scan.size > _IN_MEMORY:
                    fd, spilled = tempfile.mkstemp(prefix="engagement-import-", suffix=path.suffix)
                    disk = os.fdopen(fd, "wb")
                    disk.writelines(memory)
                    memory.clear()
                if disk is None:
                    memory.append(block)
                else:
                    disk.write(block)
            after = os.fstat(f.fileno())
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or scan.size != after.st_size:
            raise Refused(
                f"the file changed while it was being read ({before.st_size:,} bytes when opened, "
                f"{max(after.st_size, scan.size):,} by the end): wait until whatever writes it (a MIS export, a "
                "folder being synced) has finished, then import it again"
            )
    except BaseException:
        if disk is not None:
            disk.close()
        if spilled is not None:
            os.unlink(spilled)
        raise
    look = scan.done()
    if disk is None or spilled is None:
        data = b"".join(memory)
        del memory[:]
        return Source(path.name, scan.size, lambda: io.BytesIO(data), look.sha256, look)
    disk.close()
    copy = spilled

    def reopen() -> IO[bytes]:
        return open(copy, "rb")  # each reader closes what it opens

    source = Source(path.name, scan.size, reopen, look.sha256, look)
    weakref.finalize(source, os.unlink, copy)  # the copy goes with the import that read it
    return source


def _check_size(size: int) -> None:
    limit = load_settings().imports.max_file_mb
    if size > limit * 1_000_000:
        raise Refused(
            f"the file is {size / 1_000_000:,.0f} MB, over the limit of {limit:g} MB: split it into several files"
        )


def _check_workbook(data: bytes) -> None:
    """Refuse an .xlsx that would unpack to far more than it holds, before openpyxl opens it."""
    limits = load_settings().imports
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        return  # not a ZIP at all: openpyxl's own refusal says so
    if unpacked > limits.max_unpacked_mb * 1_000_000 or unpacked > limits.max_unpack_ratio * max(len(data), 1):
        raise Refused(
            f"the workbook would unpack to {unpacked / 1_000_000:,.0f} MB from "
            f"{len(data) / 1_000_000:,.1f} MB; it is refused unopened. "
            "Save the sheet as CSV and import that"
        )


# ---------------------------------------------------------------- reading a file into rows of text cells

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_NOT_CP1252 = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")  # the five bytes Windows-1252 leaves undefined
_BLOCK = 1 << 20
_NOT_TEXT = "the file is not text (it holds binary bytes): save it as CSV or XLSX"


@dataclass
class _Look:
    """What one pass over a file's bytes found: its checksum, whether it holds anything, how it
    starts, and which text encoding reads it (None: binary)."""

    sha256: str
    blank: bool
    start: bytes
    encoding: str | None
    control: bool


class _Scan:
    """One pass over the bytes, a block at a time: the SHA-256 for the audit, and whether the file
    is UTF-8 or Windows-1252 text without control bytes (in both, a byte under 0x80 is the ASCII
    character, so the bytes can be checked before decoding)."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.utf8 = codecs.getincrementaldecoder("utf-8")("strict")
        self.is_utf8, self.is_cp1252, self.control, self.blank, self.start = True, True, False, True, b""
        self.size = 0

    def feed(self, block: bytes) -> None:
        self.size += len(block)
        self.digest.update(block)
        if not self.start:
            self.start = block[:4]
        self.blank = self.blank and not block.strip()
        self.control = self.control or bool(_CONTROL_BYTES.search(block))
        if self.is_utf8:
            try:
                self.utf8.decode(block)
            except UnicodeDecodeError:
                self.is_utf8 = False
        self.is_cp1252 = self.is_cp1252 and not _NOT_CP1252.search(block)

    def done(self) -> _Look:
        if self.is_utf8:
            try:
                self.utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                self.is_utf8 = False
        encoding = "utf-8-sig" if self.is_utf8 else "cp1252" if self.is_cp1252 else None
        return _Look(self.digest.hexdigest(), self.blank, self.start, encoding, self.control)


def _look(source: Source) -> _Look:
    """What a pass over the source's bytes finds (for a path, its snapshot's pass found it)."""
    if source.look is None:
        scan = _Scan()
        with source.open() as f:
            while block := f.read(_BLOCK):
                scan.feed(block)
        source.look = scan.done()
    return source.look


EMPTY_FILE = "the file is empty: it needs a header row and rows of data"
HEADER_ONLY = "the file has a header but no rows of data: nothing was imported"


def _first_place(source: Source, pattern: re.Pattern[bytes]) -> tuple[int | None, str | None]:
    """The row and column of the first byte ``pattern`` finds in the file: where a file that is not
    text goes wrong (rows counted as a spreadsheet counts them; the column by the header's name, or
    by its place in the row when the header itself cannot be read).

    >>> _first_place(open_source(("f.csv", b"family_id,notes\\nF1,ok\\nF2,bad \\x81 byte\\n")), _NOT_CP1252)
    (3, 'notes')
    """
    with source.open() as f:
        data = f.read()
    found = pattern.search(data)
    if found is None:
        return None, None
    before = data[: found.start()]
    row = before.count(b"\n") + 1
    line = before[before.rfind(b"\n") + 1 :].decode("latin-1").replace("\r", " ")
    header_line = next((h for h in data.split(b"\n") if h.strip()), b"").decode("latin-1").replace("\r", " ")
    delimiter = max((",", ";", "\t"), key=header_line.count) if header_line.count(",") == 0 else ","

    def cells(text: str) -> list[str]:
        try:
            return next(csv.reader([text], delimiter=delimiter), [])
        except csv.Error:  # a stray quote: count the delimiters alone
            return text.split(delimiter)

    index = max(len(cells(line)), 1) - 1
    header = [h.strip().lower() for h in cells(header_line)]
    named = row > 1 and index < len(header) and header[index].isascii() and header[index].isprintable()
    return row, header[index] if named and header[index] else f"column {index + 1}"


def refuse_empty(report: ImportReport, name: str, columns: Sequence[str]) -> None:
    """An empty file refused at its first row, under the first column it should have had."""
    naming = f" (naming {', '.join(columns)})" if columns else ""
    report.error(name, 1, columns[0] if columns else "header", EMPTY_FILE + naming)


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a CSV would have held."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores every number as a float
    return str(value)


def file_rows(source: Source) -> Iterator[list[str]]:
    """Every row of the file as text cells, blank ones included, so that the n-th row is the row
    a spreadsheet numbers n. Raises :class:`Refused` (at once, or on reaching a broken row)."""
    limits = load_settings().imports
    look = _look(source)
    source.sha256 = look.sha256
    if look.blank:
        raise Refused(EMPTY_FILE, row=1)
    _check_size(source.size)
    suffix = Path(source.name).suffix.lower()
    if suffix in (".xlsx", ".xlsm") or (suffix not in (".csv", ".txt") and look.start.startswith(b"PK\x03\x04")):
        return _sheet_rows(source, limits.max_rows, limits.max_cell_chars)
    if suffix == ".xls":
        raise Refused("old Excel files (.xls) are not read: save it as .xlsx or CSV")
    if look.start.startswith((b"\xff\xfe", b"\xfe\xff")):
        with source.open() as f:
            text = f.read().decode("utf-16")  # rare, and small: Excel's "Unicode text"
        if _CONTROL.search(text):
            raise Refused(_NOT_TEXT)
        return _csv_rows(lambda: io.StringIO(text, newline=""), source.name, limits.max_rows, limits.max_cell_chars)
    if look.encoding is None:
        raise Refused(
            "the file is not text (it is neither UTF-8 nor Windows-1252): save it as CSV or XLSX",
            *_first_place(source, _NOT_CP1252),
        )
    if look.control:
        raise Refused(_NOT_TEXT, *_first_place(source, _CONTROL_BYTES))
    encoding = look.encoding
    return _csv_rows(
        lambda: io.TextIOWrapper(source.open(), encoding=encoding, newline=""),
        source.name,
        limits.max_rows,
        limits.max_cell_chars,
    )


def read_file(item) -> tuple[str, list[list[str]]]:
    """A file's name and every row of it as text cells, read as every import reads them: CSV in
    UTF-8 or Windows-1252 (quoting checked strictly) or an .xlsx's first sheet, within the size
    limits of ``[imports]``; a quoted empty cell comes back as "". Raises :class:`Refused` (its
    ``row`` and ``column`` say where) for a file that cannot be read.

    >>> read_file(("terms.csv", 'kind,name\\r\\nterm,"autumn, 2026"\\r\\n'.encode()))
    ('terms.csv', [['kind', 'name'], ['term', 'autumn, 2026']])
    """
    source = open_source(item)
    return source.name, [[("" if c == EMPTY_TEXT else c) for c in row] for row in file_rows(source)]


def read_reported(report: ImportReport, item, columns: Sequence[str] = ()) -> tuple[str, list[list[str]] | None]:
    """:func:`read_file`, with a file that cannot be read put into ``report`` (its row and column
    where known) instead of raised: (name, rows), or (name, None). ``columns``: the columns a
    file of its kind needs, by which an empty file and one of a header alone are refused."""
    try:
        name, rows = read_file(item)
    except (Refused, OSError) as exc:
        name = source_name(item)
        if isinstance(exc, Refused) and str(exc) == EMPTY_FILE:
            refuse_empty(report, name, columns)
            return name, None
        reason = f"the file cannot be read: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
        report.error(name, getattr(exc, "row", None), getattr(exc, "column", None), reason)
        return name, None
    filled = [i for i, row in enumerate(rows, start=1) if any(c.strip() for c in row)]
    if not filled:
        refuse_empty(report, name, columns)
        return name, None
    if len(filled) == 1:
        header = [c.strip().lower() for c in rows[filled[0] - 1]]
        report.error(name, filled[0] + 1, (columns[0] if columns else header[0]) or "header", HEADER_ONLY)
        return name, None
    return name, rows


def source_name(item) -> str:
    """The file name of a path, a (name, bytes) pair or an uploaded file."""
    return Path(str(getattr(item, "name", item[0] if isinstance(item, tuple) else item))).name


def source_list(paths) -> list:
    """The files of a batch: one path or (name, bytes) pair, or several."""
    single = isinstance(paths, (str, Path)) or (
        isinstance(paths, tuple) and len(paths) == 2 and isinstance(paths[1], (bytes, bytearray))
    )
    return [paths] if single else list(paths)


def _sheet_rows(source: Source, max_rows: int, max_cell_chars: int) -> Iterator[list[str]]:
    with source.open() as f:
        data = f.read()
    _check_workbook(data)
    try:
        sheet = pd.read_excel(io.BytesIO(data), sheet_name=0, header=None, dtype=object, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise Refused(
            f"the file is not a readable Excel workbook ({type(exc).__name__}): save it again as .xlsx or CSV"
        ) from None
    del data
    if len(sheet) > max_rows + 1:
        raise Refused(
            f"the file has {len(sheet) - 1:,} rows, over the limit of {max_rows:,}: split it into several files"
        )

    def rows() -> Iterator[list[str]]:
        for number, values in enumerate(sheet.itertuples(index=False, name=None), start=1):
            cells = [cell_text(v) for v in values]
            if any(len(cell) > max_cell_chars for cell in cells):
                raise Refused(_too_long(max_cell_chars), row=number)
            yield cells

    return rows()


def _too_long(limit: int, line: int | None = None) -> str:
    where = f" (it starts on line {line:,} of the file)" if line else ""
    return (
        f"this row has a cell of more than {limit:,} characters{where}; a stray quote mark can make the rest "
        "of the file one cell: check the quote marks in this row, or shorten the text"
    )


def _csv_rows(open_text: Callable[[], IO[str]], name: str, max_rows: int, max_cell_chars: int) -> Iterator[list[str]]:
    """The rows of a CSV file, read strictly a record at a time (a quoted cell may hold line
    breaks). A quoted empty cell comes as :data:`EMPTY_TEXT`. A broken quote, a cell over
    ``max_cell_chars`` or a cell that swallowed rows of the file raises :class:`Refused` naming
    the row (and column) where that cell starts."""
    with open_text() as f:
        first = next((line for line in f if line.strip()), "")
    # Excel in some locales writes ";" or tab between cells; the header row tells which.
    delimiter = max((",", ";", "\t"), key=first.count) if first.count(",") == 0 else ","
    with open_text() as f:
        lines: list[str] = []

        def feed() -> Iterator[str]:
            # The lines of the record being read, for the rare record that needs a second look.
            for line in f:
                lines.append(line)
                yield line

        reader = csv.reader(feed(), delimiter=delimiter, strict=True)
        header: list[str] | None = None
        row = line_end = 0
        saved = csv.field_size_limit(max_cell_chars)
        try:
            while True:
                lines.clear()
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise _broken(exc, row + 1, line_end + 1, lines, delimiter, header, max_cell_chars) from None
                row += 1
                if row > max_rows + 1:
                    raise Refused(f"the file has more than {max_rows:,} rows, the limit: split it into several files")
                if len(lines) > 1 or (lines and '""' in lines[0]):
                    cells = _second_look(cells, lines, delimiter, row, line_end + 1, header)
                line_end = reader.line_num
                if header is None and any(c.strip() for c in cells):
                    header = [c.strip().lower() for c in cells]
                yield cells
        finally:
            csv.field_size_limit(saved)


@dataclass
class _Cell:
    """Where one cell lies in a record's raw text, as :func:`_scan` found it."""

    index: int
    start: int
    end: int
    quoted: bool
    closed: bool = True
    text_after_quote: bool = False


def _scan(raw: str, delimiter: str) -> list[_Cell]:
    """The cells of one record's raw text, forgivingly (as the csv module reads without
    ``strict``), with where each starts and ends and how it is quoted.

    >>> [(c.index, c.quoted, c.closed) for c in _scan('1,"a ""b"", c",,""\\n', ",")]
    [(0, False, True), (1, True, True), (2, False, True), (3, True, True)]
    >>> [(c.quoted, c.closed) for c in _scan('1,"open\\n2,3\\n', ",")]
    [(False, True), (True, False)]
    """
    cells: list[_Cell] = []
    i, n = 0, len(raw)
    while True:
        cell = _Cell(len(cells), i, i, quoted=raw.startswith('"', i))
        if cell.quoted:
            i += 1
            while True:
                j = raw.find('"', i)
                if j == -1:
                    cell.closed, i = False, n
                    break
                if raw.startswith('""', j):
                    i = j + 2
                    continue
                i = j + 1
                break
            if cell.closed and i < n and raw[i] not in (delimiter, "\r", "\n"):
                cell.text_after_quote = True
        ends = [k for k in (raw.find(delimiter, i), raw.find("\n", i), raw.find("\r", i)) if k != -1]
        i = min(ends) if ends else n
        cell.end = i
        cells.append(cell)
        if i >= n or raw[i] != delimiter:
            return cells
        i += 1


# A cell of a record the strict reader took, and what ends it: quoted ("" inside), or not.
_FIELD = {
    d: re.compile(f'("(?:[^"]|"")*"|[^{re.escape(d)}\\r\\n]*)(?:{re.escape(d)}|\\r\\n|\\n|\\r|$)')
    for d in (",", ";", "\t")
}


def _quoted_empty(raw: str, delimiter: str) -> list[int]:
    """The cells of a well-formed record (one the strict reader took) written as ``""``.

    >>> _quoted_empty('a,"",,"say ""hi"" ",""', ",")
    [1, 4]
    """
    return [i for i, m in enumerate(_FIELD[delimiter].finditer(raw)) if m.group(1) == '""']


def _second_look(
    cells: list[str], lines: list[str], delimiter: str, row: int, line: int, header: list[str] | None
) -> list[str]:
    """A record that spans lines or holds ``""``: mark its quoted empty cells, and refuse it if a
    cell swallowed what look like rows of the file (a quote mark opened and closed far apart)."""
    raw = "".join(lines)
    if "" in cells and '""' in raw:
        for index in _quoted_empty(raw, delimiter):
            if index < len(cells) and cells[index] == "":
                cells[index] = EMPTY_TEXT
    if len(lines) > 1 and header is not None:
        for index, text in enumerate(cells):
            if "\n" not in text and "\r" not in text:
                continue
            later = text.splitlines()[1:]
            rowlike = _rowlike(later, delimiter, header)
            if rowlike is not None:
                raise Refused(
                    f"this cell runs on over {len(later) + 1:,} lines of the file (from line {line:,}), and line "
                    f"{line + rowlike:,} in it looks like a row of its own ({shorten(later[rowlike - 1], 60)!r}): "
                    "a quote mark that opens the cell is probably never closed where it should be. Close the quote, "
                    'or remove the stray quote mark (a quote mark inside a cell is written twice: "")',
                    row=row,
                    column=_column_name(header, index),
                )
    return cells


def _rowlike(lines: list[str], delimiter: str, header: list[str] | None) -> int | None:
    """The first of ``lines`` (1 = the first) that looks like a row of the file: it holds as many
    separators as a row does (a line of a note rarely does), or None."""
    if header is None:
        return None
    enough = max(len(header) - 1, 2)
    return next((k for k, part in enumerate(lines, start=1) if part.count(delimiter) >= enough), None)


def _column_name(header: list[str] | None, index: int) -> str | None:
    if header is None:
        return None
    return header[index] if index < len(header) and header[index] else f"column {index + 1}"


def _broken(
    exc: csv.Error, row: int, line: int, lines: list[str], delimiter: str, header: list[str] | None, max_cell_chars: int
) -> Refused:
    """Why the csv module stopped, as a sentence naming the row (and line) where the cell starts."""
    raw = "".join(lines)
    cells = _scan(raw, delimiter)
    last_line = line + max(len(lines) - 1, 0)
    if "field larger than field limit" in str(exc):
        long = next((c for c in cells if c.end - c.start > max_cell_chars), cells[-1] if cells else None)
        column = _column_name(header, long.index) if long else None
        if (
            long is not None
            and long.quoted
            and not long.closed
            and _rowlike(raw[long.start :].splitlines()[1:], delimiter, header)
        ):
            return Refused(
                f"a quote mark opens this cell (line {line:,} of the file) and is never closed: the cell runs on "
                f"over the rows that follow, past the limit of a cell of more than {max_cell_chars:,} characters. "
                'Close the quote, or remove the stray quote mark (a quote mark inside a cell is written twice: "")',
                row=row,
                column=column,
            )
        return Refused(_too_long(max_cell_chars, line if line != row else None), row=row, column=column)
    unclosed = next((c for c in cells if c.quoted and not c.closed), None)
    if unclosed is not None:
        return Refused(
            f"a quote mark opens this cell (line {line:,} of the file) and is never closed, so lines {line:,} to "
            f"{last_line:,} would be read as one cell: close the quote, or remove the stray quote mark (a quote "
            'mark inside a cell is written twice: "")',
            row=row,
            column=_column_name(header, cells.index(unclosed)),
        )
    after = next((c for c in cells if c.text_after_quote), None)
    if after is not None:
        column = _column_name(header, after.index)
        if any(mark in raw[after.start : after.end] for mark in ("\n", "\r")):
            return Refused(
                f"the quoted text that starts in this cell (line {line:,} of the file) runs on to line {last_line:,}, "
                "where a quote mark is followed by more text: a quote mark is missing or stray in this row. Close "
                'the quote, or remove the stray quote mark (a quote mark inside a cell is written twice: "")',
                row=row,
                column=column,
            )
        return Refused(
            f"a quote mark ends the quoted text of this cell and more text follows it "
            f"({shorten(raw[after.start : after.end], 60)!r}): put the whole cell in quotes and write each quote "
            'mark inside it twice ("")',
            row=row,
            column=column,
        )
    return Refused(f"the file is not valid CSV here (line {line:,}): {exc}", row=row)
