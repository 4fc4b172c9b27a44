"""Issue 13: officers keep logging contacts while a data lead imports a large file. The import reads
and checks outside the write transaction and writes in one short one, so on SQLite (one writer at a
time, a 10 s busy timeout) and on PostgreSQL every contact logged during the import lands; before,
the import held SQLite's write lock for its whole run and the officers' saves failed."""

from __future__ import annotations

import multiprocessing
import os
import time

from sqlalchemy import func, select

from engagement import store as db
from engagement.contacts import log_interaction
from engagement.interchange import import_files
from engagement.store import open_store

ROWS = 20_000
OFFICERS = 3
FAMILIES = 50


BEFORE, DURING, AFTER = 0, 1, 2  # the import's phase, as the officers see it when a save starts and ends


def officer(url: str, n: int, ready, start, stop, phase, first, after, results) -> None:
    """One officer's process: log a contact, pause a moment, again, until the import is over. Each
    save is noted with the import's phase when it began and when it ended (no clock is read)."""
    store = open_store(url)
    ready.put(n)
    start.wait(120)
    logged = []
    while True:
        began = phase.value
        try:
            log_interaction(
                store,
                f"flo{n}",
                school_id="S1",
                family_id=f"F{len(logged) % FAMILIES}",
                date="2026-11-20",
                activity="phone call",
                notes=f"contact {len(logged)}",
                today="2026-11-23",
            )
            logged.append((began, phase.value, None))
        except Exception as exc:  # every failure is reported to the test
            logged.append((began, phase.value, f"{type(exc).__name__}: {exc}"[:300]))
        first.set()
        if began == AFTER:
            after.set()
        if stop.is_set():
            break
        time.sleep(0.1)  # an officer's pace, not a measurement
    results.put((n, logged))
    store.dispose()


def big_file() -> bytes:
    lines = ["interaction_id,date,family_id,activity,staff,notes"]
    lines += [f"X{i:06d},2026-10-{1 + i % 28:02d},F{i % FAMILIES},phone call,FLO,imported {i}" for i in range(ROWS)]
    return ("\n".join(lines) + "\n").encode()


def test_contacts_logged_during_a_large_import_all_land(store):
    families = ("family_id\n" + "".join(f"F{i}\n" for i in range(FAMILIES))).encode()
    seed = import_files(
        store,
        [("schools.csv", b"school_id,name,postcode\nS1,Hollybrook,B30 2AA\n"), ("families.csv", families)],
        actor="setup",
    )
    assert seed.ok, seed.format()
    data = big_file()
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each: no engine shared across a fork
    ready, results = context.Queue(), context.Queue()
    start, stop = context.Event(), context.Event()
    phase = context.Value("i", BEFORE)
    firsts = [context.Event() for _ in range(OFFICERS)]
    afters = [context.Event() for _ in range(OFFICERS)]
    workers = [
        context.Process(target=officer, args=(store.url, n, ready, start, stop, phase, firsts[n], afters[n], results))
        for n in range(OFFICERS)
    ]
    for worker in workers:
        worker.start()
    try:
        for _ in workers:
            ready.get(timeout=120)
        start.set()
        assert all(e.wait(120) for e in firsts)  # every officer is logging before the import starts
        phase.value = DURING
        report = import_files(store, [("interactions.csv", data)], actor="data lead")
        phase.value = AFTER
        assert all(e.wait(120) for e in afters)  # and goes on logging after it
        stop.set()
        logged = dict(results.get(timeout=120) for _ in workers)
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)
            if worker.is_alive():
                os.kill(worker.pid, 9)
    assert report.ok, report.format()
    assert report.counts["interactions"]["inserted"] == ROWS
    failures = [(n, error) for n, entries in logged.items() for _, _, error in entries if error]
    assert failures == [], failures
    # The import held the write lock for its short write only: every officer saved a contact that
    # began and ended while the import ran (with the lock held throughout, none could have ended).
    for n, entries in logged.items():
        assert (DURING, DURING, None) in entries, f"officer {n} saved nothing while the import ran: {entries}"
    with store.read() as conn:
        total = conn.execute(select(func.count()).select_from(db.interactions)).scalar_one()
    assert total == ROWS + sum(len(entries) for entries in logged.values())
