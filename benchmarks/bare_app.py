"""A one-line Streamlit app: the baseline that benchmarks/app_load.py measures Pretext Lab's pages against."""

import streamlit as st

st.title("Bare Streamlit page")
