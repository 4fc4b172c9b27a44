"""What an import did, or why it did nothing: the report every import engine gives back, its
problems each named by file, row (as a spreadsheet numbers it), column and reason.

>>> report = ImportReport(files=["families.csv"])
>>> report.error("families.csv", 3, "send", "'maybe' is not yes or no")
>>> print(report.format())
Nothing was imported: 1 problem in 1 file. The store is unchanged; fix the files and import again.
  families.csv, row 3, send: 'maybe' is not yes or no
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

MAX_PRINTED_ERRORS = 50
# Problems kept in a report: enough for any page or printout, while a file of a million bad rows
# still makes a report of a few megabytes (the count says how many there were in all).
MAX_KEPT_ERRORS = 10_000


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out.

    >>> shorten("x" * 500, 20)
    'xxxxxxxxxx… (490 more characters)'
    """
    if len(text) <= limit:
        return text
    keep = max(limit // 2, 1)
    return f"{text[:keep]}… ({len(text) - keep:,} more characters)"


@dataclass(frozen=True)
class Problem:
    """One reason a batch was refused. ``row`` is the spreadsheet row (the header is row 1)."""

    file: str
    row: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = [self.file] + ([f"row {self.row}"] if self.row else []) + ([self.column] if self.column else [])
        return f"{', '.join(where)}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did, or why it did nothing. ``seconds`` says how long the reading and
    checking and the writing (the time the store's write lock was held) took."""

    files: list[str] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    errors_not_kept: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def problem_count(self) -> int:
        """Every problem found, also those beyond the :data:`MAX_KEPT_ERRORS` kept."""
        return len(self.errors) + self.errors_not_kept

    def error(self, file: str, row: int | None, column: str | None, reason: str) -> None:
        if len(self.errors) >= MAX_KEPT_ERRORS:
            self.errors_not_kept += 1
            return
        # A report quotes what it refuses; a 300 MB header must not become a 300 MB report.
        self.errors.append(
            Problem(shorten(file, 120), row, None if column is None else shorten(column, 60), shorten(reason, 400))
        )

    def errors_frame(self) -> pd.DataFrame:
        """The problems as a table (file, row, column, reason), for a page to show."""
        return pd.DataFrame([vars(p) for p in self.errors], columns=["file", "row", "column", "reason"])

    def rows(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())

    def format(self, limit: int = MAX_PRINTED_ERRORS) -> str:
        """A readable account: counts per kind, or the first ``limit`` problems."""
        if not self.files:
            return "No files were given."
        lines = []
        if self.errors:
            n, files = self.problem_count, len({p.file for p in self.errors})
            lines.append(
                f"Nothing was imported: {n:,} problem{'s' * (n != 1)} in {files} "
                f"file{'s' * (files != 1)}. The store is unchanged; fix the files and import again."
            )
            lines += [f"  {p}" for p in self.errors[:limit]]
            if n > limit:
                lines.append(f"  ... and {n - limit:,} more.")
        else:
            verb = "Checked (nothing written)" if self.dry_run else "Imported"
            lines.append(f"{verb}: {', '.join(self.files)}.")
            lines += self.count_lines()
        lines += [f"  Note: {note}" for note in self.notes]
        return "\n".join(lines)

    def count_lines(self) -> list[str]:
        """A line per kind counted, in the order the import counted them."""
        new, updated = ("to add", "to update") if self.dry_run else ("new", "updated")
        return [
            f"  {kind}: {c['inserted']} {new}, {c['updated']} {updated}, {c['unchanged']} unchanged"
            for kind, c in self.counts.items()
            if "inserted" in c
        ]
