"""`make run` starts Pretext Lab through this file: the same app.py, with the library's heavy imports (torch,
the tasks, scikit-learn) done while the server starts instead of during the first visit.

Importing torch takes seconds. Without this the first person to open the app after a start waits for it;
with it the server takes those seconds before it reports ready (and prints its URL), and every visit finds
the library loaded. The pages never depend on it: `streamlit run app.py` works the same, only its first
visit is slower (benchmarks/app_load.py measures both). Streamlit runs this file as an ASGI app because it
defines ``app = st.App(...)``; the lifespan hook is Streamlit's documented place for start-up work, and the
import runs in a thread so the event loop is not blocked.
"""

import asyncio
import gc
from contextlib import asynccontextmanager

import streamlit as st

from sslcore import lab


@asynccontextmanager
async def lifespan(_app):
    await asyncio.to_thread(lab.preload)
    # the import leaves ~200,000 long-lived objects (torch, scikit-learn, the tasks): without this, the next full
    # collection, which falls in the first visit, walks them all (the visit's text came 0.3 s later when measured).
    # Frozen, the collector skips them for good; they live as long as the server anyway.
    gc.collect()
    gc.freeze()
    yield


app = st.App("app.py", lifespan=lifespan)
