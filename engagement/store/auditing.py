"""The audit log's writing: one row per change, in the transaction that makes it (who, when, what,
the before and after images as JSON)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from engagement import clock

if TYPE_CHECKING:  # pandas is imported where a frame is built: the store itself never needs it
    pass
from engagement.store.tables import audit_log


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _json_default(value: Any) -> Any:
    # Dates at any depth: an import event's before-images are rows inside a mapping.
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(value: Mapping[str, Any] | str | None) -> str | None:
    """``value`` as the audit log stores an image: JSON, keys sorted, dates in ISO form (a text is
    taken as JSON already made, e.g. an import's list of ids, built before its write transaction)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(
        {k: _jsonable(v) for k, v in value.items()}, ensure_ascii=False, sort_keys=True, default=_json_default
    )


def audit_values(
    conn: Connection,
    action: str,
    table_name: str,
    record_id: str | None,
    before: Mapping[str, Any] | str | None,
    after: Mapping[str, Any] | str | None,
    detail: str | None,
    at: dt.datetime,
) -> dict[str, Any]:
    return {
        "at": at,
        "actor": conn.info.get("actor") or "unknown",
        "action": action,
        "table_name": table_name,
        "record_id": record_id,
        "before": to_json(before),
        "after": to_json(after),
        "detail": detail,
    }


def audit(
    conn: Connection,
    action: str,
    table_name: str,
    record_id: str | None = None,
    before: Mapping[str, Any] | str | None = None,
    after: Mapping[str, Any] | str | None = None,
    detail: str | None = None,
) -> None:
    """Write one audit row in the caller's transaction: it lands or is lost with the change.
    ``before`` and ``after`` are images (mappings) or JSON text already made (see :func:`to_json`)."""
    conn.execute(
        audit_log.insert().values(
            **audit_values(conn, action, table_name, record_id, before, after, detail, clock.now())
        )
    )


def audit_many(conn: Connection, entries: Iterable[Mapping[str, Any]]) -> None:
    """Write many audit rows in one statement, in the caller's transaction: each entry holds
    :func:`audit`'s arguments by name (``action`` and ``table_name``; ``record_id``, ``before``,
    ``after`` and ``detail`` when there are)."""
    at = clock.now()
    rows = [
        audit_values(
            conn,
            e["action"],
            e["table_name"],
            e.get("record_id"),
            e.get("before"),
            e.get("after"),
            e.get("detail"),
            at,
        )
        for e in entries
    ]
    if rows:
        conn.execute(audit_log.insert(), rows)
