"""axe-core on every page of the menu (issue 7): no serious or critical violation. Every
violation of any impact is saved to artifacts/axe/<page>.json for a closer look."""

from __future__ import annotations

import pytest

from . import harness as h

pytestmark = pytest.mark.browser


def test_every_page_has_no_serious_or_critical_axe_violation(page_visits):
    lines = []
    for name, records in page_visits.items():
        record = records[0]
        if record.axe is None:
            lines.append(f"{name}: axe-core did not run ({'; '.join(record.failures) or 'no result'})")
            continue
        lines += [f"{name}: {line}" for line in h.describe_violations(record.axe)]
    assert not lines, "axe-core, serious and critical violations:\n" + "\n".join(lines)
