"""The one runner of file imports: what every import engine shares, written once. An engine
says how to check one file on its own, how to check its rows against the store and how to write
them; the runner owns the rest: the sources, the reading, the header check (with "did you mean"
for a column one letter from a known one), the dry run on a read transaction, the short write
that checks again what it checked, the audit entry and the report.

>>> one_edit_apart("notess", "notes")
True
"""

from __future__ import annotations

from collections.abc import Collection

from engagement.imports.report import ImportReport


def one_edit_apart(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with one letter added, dropped, changed or two neighbours swapped.

    >>> one_edit_apart("notess", "notes"), one_edit_apart("ntoes", "notes"), one_edit_apart("note", "notes")
    (True, True, True)
    >>> one_edit_apart("notes", "notes"), one_edit_apart("nots", "note"), one_edit_apart("staff", "stuffs")
    (False, True, False)
    """
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def check_unknown_columns(
    report: ImportReport, name: str, kind: str, row: int | None, header: list[str], known: Collection[str]
) -> None:
    """The header check every import shares for columns its kind does not know: one a letter away
    from a known column the header lacks is a misspelling (``notess``), refused with "did you
    mean", since its values would otherwise be dropped without a word; any other is noted as ignored."""
    present = set(header)
    ignored = []
    for h in header:
        if not h or h in known:
            continue
        meant = sorted(k for k in known if k not in present and len(k) >= 4 and one_edit_apart(h, k))
        if meant:
            report.error(
                name,
                row,
                h,
                f"the column {h!r} is not in the {kind} format: did you mean {meant[0]!r}? "
                "Correct the header, then import again",
            )
        else:
            ignored.append(h)
    if ignored:
        report.notes.append(f"{name}: columns not in the {kind} format were ignored: {', '.join(ignored)}")
