"""The Streamlit server settings that protect a shared classroom server stay in .streamlit/config.toml.

The live checks (a forged upload is refused, an oversized one too) are in tests/e2e/test_isolation.py.
"""

import tomllib
from pathlib import Path

from sslcore.data.decode import MAX_UPLOAD_BYTES

CONFIG = Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml"


def config() -> dict:
    return tomllib.loads(CONFIG.read_text())


def server_config() -> dict:
    return config().get("server", {})


def test_xsrf_protection_and_cors_are_not_disabled():
    server = server_config()
    assert server.get("enableXsrfProtection", True) is True, "XSRF protection must stay on"
    assert server.get("enableCORS", True) is True, "CORS protection must stay on"


def test_upload_cap_is_set_and_fits_one_full_size_image():
    cap = server_config().get("maxUploadSize")
    assert isinstance(cap, int), "server.maxUploadSize must be set (MB), not left at Streamlit's 200 MB default"
    # One image at the decoder's own cap must get through; much more is memory held per browser session.
    assert MAX_UPLOAD_BYTES // 2**20 < cap <= 100, cap


def test_no_full_garbage_collection_after_every_script_run():
    # Streamlit's default (runner.postScriptGC = true) spends ~150 ms of CPU holding the GIL after every
    # rerun of every session once torch is imported: see the comment in config.toml.
    assert config().get("runner", {}).get("postScriptGC") is False
