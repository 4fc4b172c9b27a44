"""The geocoding section: how many records are unplaced, a button that places them with a
progress bar, and the list of what could not be placed with reasons. Shown on the Partner map
page; the Data page may call :func:`geocode_section` too."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

import ui
from engagement import geo
from engagement.text import md_escape
from ui.tables import dataframe


def geocode_section(store, key: str = "geocode") -> None:
    counts = geo.unplaced_counts(store)
    missing = counts["schools"] + counts["partners"]
    settings = geo.geocoding_settings()
    with st.expander(
        f"Place partners and schools on the map ({missing} without coordinates)", expanded=bool(counts["schools"])
    ):
        st.write(
            f"{counts['partners']} partners and {counts['schools']} schools have no coordinates. "
            "They are placed from their postcode: first the local postcode list (gazetteer), then, "
            f"if allowed, the online geocoder at {settings.domain} (one request a second)."
        )
        c1, c2 = st.columns(2)
        online = c1.toggle("Use the online geocoder", value=settings.online, key=f"{key}_online")
        limit = c2.number_input("At most this many records now", min_value=1, value=200, step=10, key=f"{key}_limit")
        if st.button("Place them", key=f"{key}_run", disabled=missing == 0, type="primary"):
            bar = st.progress(0.0, text="Starting…")

            def progress(done: int, total: int, what: str) -> None:
                bar.progress(done / max(total, 1), text=f"{done} of {total}: {md_escape(what)}")

            st.session_state[f"{key}_report"] = geo.geocode_missing(
                store, ui.current_actor(), limit=int(limit), online=online, progress=progress
            )
            st.rerun()  # the map above was drawn before these partners had coordinates
        report = st.session_state.get(f"{key}_report")
        if report is not None:
            st.success(
                f"Placed {len(report.placed)} of {report.attempted}"
                + (f"; {report.not_attempted} left for another run." if report.not_attempted else ".")
            )
            if report.unplaced:
                st.write(f"Could not place {len(report.unplaced)}:")
                dataframe(
                    [
                        {
                            "What": u["kind"],
                            "Reference": u["id"],
                            "Name": u["name"],
                            "Postcode": u["postcode"] or "",
                            "Reason": u["reason"],
                        }
                        for u in report.unplaced
                    ],
                    hide_index=True,
                    width="stretch",
                )
        upload = st.file_uploader(
            "Add a postcode list (ONS Postcode Directory, or postcode, latitude, longitude)",
            type=["csv"],
            key=f"{key}_gazetteer",
        )
        if upload is not None and st.button("Import the postcode list", key=f"{key}_import"):
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / Path(upload.name).name
                path.write_bytes(upload.getvalue())
                try:
                    n = geo.import_gazetteer(store, path, actor=ui.current_actor())
                except geo.GazetteerError as error:
                    st.error(str(error))
                else:
                    st.success(f"{n} postcodes added to the gazetteer.")
