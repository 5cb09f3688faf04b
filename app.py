"""Pretext Lab: the Streamlit entry point. A thin layer over sslcore; one file per page in views/ (not pages/: see docs/architecture.md)."""

import streamlit as st

from sslcore import lab
from views.cluster import runs_target
from views.owner import identity_sidebar
from views.ui import start_worker

st.set_page_config(page_title="Pretext Lab", page_icon="🧩", layout="wide")

pages = [
    st.Page("views/home.py", title="Home", icon="🏠", default=True),
    st.Page("views/explore.py", title="Explore", icon="🔍", url_path="explore"),
    st.Page("views/train.py", title="Train", icon="🏋️", url_path="train"),
    st.Page("views/results.py", title="Results", icon="📊", url_path="results"),
]
page = st.navigation(pages)
identity_sidebar()
try:
    start_worker()
    st.sidebar.caption(f"Runs use: **{runs_target()}**")
except lab.PretextLabError as err:  # a damaged, locked or full run store: say so, and keep Explore working
    st.sidebar.error(f"Background runs are unavailable: {err}", icon="🛑")
page.run()
