"""The filters on what partners' services offer, shared by the Partner map, Community layers and
the Directory so they read the same everywhere: a child's age, a language, free only, how it is
delivered, and open on a day of the week. Widgets in, an :class:`engagement.directory.ServiceFilter`
out; which partners pass is decided in ``engagement.directory``."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engagement.directory import ServiceFilter, service_choices
from engagement.service_vocabulary import DAYS, DELIVERY

DAY_NAMES = dict(zip(DAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"), strict=True))


def service_filters(services: pd.DataFrame, key: str, *, stacked: bool = False) -> ServiceFilter:
    """Five widgets (side by side, or one under another with ``stacked``, as in a sidebar), keyed
    ``<key>_age`` and so on; returns what they chose."""
    places = [st.container() for _ in range(5)] if stacked else st.columns(5, vertical_alignment="bottom")
    languages = service_choices(services)["languages"]
    age = places[0].number_input(
        "For a child aged", min_value=0, max_value=25, value=None, step=1, key=f"{key}_age", placeholder="any age"
    )
    language = places[1].selectbox(
        "Language spoken", ["", *languages], key=f"{key}_language", format_func=lambda v: v or "Any"
    )
    delivery = places[2].multiselect("Delivered", list(DELIVERY), key=f"{key}_delivery", placeholder="Any way")
    day = places[3].selectbox(
        "Open on", ["", *DAYS], key=f"{key}_day", format_func=lambda v: DAY_NAMES.get(v, "Any day")
    )
    free = places[4].checkbox("Free only", key=f"{key}_free")
    return ServiceFilter(
        age=None if age is None else int(age), language=language, free=free, delivery=tuple(delivery), open_on=day
    )
