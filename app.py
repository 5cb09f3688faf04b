"""Pretext Lab: the Streamlit entry point. A thin layer over sslcore; one file per page in views/ (not pages/: see docs/architecture.md)."""

import streamlit as st

from sslcore import lab
from views.cluster import show_runs_target
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
runs_slot = st.sidebar.empty()  # filled after the page: naming the device may import torch; the page's text first
try:
    start_worker()
except lab.PretextLabError as err:  # a damaged, locked or full run store: say so, and keep Explore working
    runs_slot.error(f"Background runs are unavailable: {err}", icon="🛑")
    runs_slot = None
try:
    page.run()
finally:  # also after a page's st.stop()
    if runs_slot is not None:
        show_runs_target(runs_slot)
