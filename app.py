"""Entry point: page settings and navigation. Pages live in pages/, one file each."""

import streamlit as st

st.set_page_config(page_title="Community engagement map", page_icon=":material/diversity_3:", layout="wide")

PAGES = [
    st.Page("pages/school.py", title="School", icon=":material/school:", default=True),
]

st.navigation(PAGES).run()
