"""Browser tests: the running app (``streamlit run``) driven by headless Chromium."""
