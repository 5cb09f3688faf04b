"""Pretext Lab: the Streamlit entry point. A thin layer over sslcore; one file per page in pages/."""

import streamlit as st

st.set_page_config(page_title="Pretext Lab", page_icon="🧩", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/explore.py", title="Explore", icon="🔍", url_path="explore"),
]
st.navigation(pages).run()
