"""Results, "Which layer holds what?": rendered by AppTest from real finished runs, and an older run without
stage probes beside them (a caption, never a crash)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from sslcore.runs import RunStore, Worker
from sslcore.train import TrainConfig

APP = str(Path(__file__).resolve().parents[1] / "app.py")
SMALL = dict(dataset="shapes", n=120, batch_size=32, epochs=1, probe_every=100.0, probe_size=20)


@pytest.mark.timeout(600)
def test_which_layer_holds_what_renders_per_run_with_random_init_and_says_what_is_missing():
    store = RunStore()
    group, ids = store.submit_group([TrainConfig(task="rotation", **SMALL)])
    Worker(store).run(max_runs=2)
    rotation = store.get(ids[0])
    assert rotation.status == "succeeded", rotation.error
    # a run from before stage probes: the same results without them, in the same comparison
    old_id = store.submit(TrainConfig(task="jigsaw", **SMALL), group)
    assert store.claim("w-test").id == old_id
    old = {k: v for k, v in rotation.results.items() if k != "stages"}
    store.finish(old_id, "succeeded", results={**old, "task": "jigsaw"})

    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("views/results.py").run()
    assert not at.exception, at.exception
    assert any(s.value == "Which layer holds what?" for s in at.subheader)
    chart = next(c.proto.spec for c in at.get("plotly_chart") if "best stage" in c.proto.spec)
    for text in ("block 1", "block 4", "random init (baseline)", "chance", "rotation"):
        assert text in chart, text
    assert any("rotation's best layer is " in m.value for m in at.markdown)
    captions = " ".join(c.value for c in at.caption)
    assert "Gidaris" in captions and "Kolesnikov" in captions
    assert "No per-stage probes for" in captions and "jigsaw" in captions
