"""Sections shared by several pages (widgets only; every rule lives in ``engagement``)."""
