"""The app's text side, headless with AppTest: previews of the corpus, pasted and uploaded text, a text run."""

from pathlib import Path

import pytest
from signing import sign_in
from streamlit.testing.v1 import AppTest
from test_app import APP, TIMEOUT, wait_until

EXPLORE = str(Path(__file__).resolve().parents[1] / "views" / "explore.py")


def html_of(at) -> str:
    return "\n".join(h.value for h in at.get("html"))


def explore_text(query: dict) -> AppTest:
    at = AppTest.from_file(EXPLORE, default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def test_mlm_preview_of_the_corpus_shows_masks_and_the_hidden_words():
    at = explore_text({"task": "masked_language", "count": "3", "mask_rate": "0.4"})
    page = html_of(at)
    # every chosen token is marked, in a column with the hidden word beneath it
    assert page.count("flex-direction:column") >= 3
    assert "[MASK]</span><span style='font-size:0.75em" in page
    assert sum("predict" in h.value for h in at.get("html")) == 3


@pytest.mark.parametrize(
    "task, marker",
    [("replaced_token", "was "), ("sentence_order", "[SEP]"), ("skip_gram", "centre word")],
)
def test_every_text_task_previews(task, marker):
    at = explore_text({"task": task, "count": "4", "seed": "3"})
    assert not at.error
    assert marker in html_of(at)


def test_pasted_text_is_previewed_and_escaped():
    at = explore_text({"task": "masked_language", "source": "paste", "mask_rate": "0.5"})
    at.text_area[0].set_value("The <script>alert(1)</script> cat sat on the mat today.\n\nDogs bark at the moon.").run()
    assert not at.exception, at.exception
    page = html_of(at)
    assert "<script" not in page and "&lt;" in page and "alert" in page  # user text can never become markup


def test_a_latin1_upload_is_a_clear_error_and_a_good_file_still_shows():
    at = explore_text({"task": "masked_language", "source": "upload_text"})
    at.get("file_uploader")[0].set_value(
        [
            ("notes.txt", "Caf\u00e9 au lait is served hot in the morning.".encode("latin-1"), "text/plain"),
            ("good.txt", b"Rain fell on the quiet town. The streets were empty by noon.", "text/plain"),
        ]
    ).run()
    assert not at.exception, at.exception
    assert any("notes.txt" in e.value and "not UTF-8" in e.value for e in at.error)
    assert "quiet town" in html_of(at)


def test_text_source_from_the_url_is_checked():
    at = explore_text({"task": "skip_gram", "source": "shapes"})
    assert any("source" in w.value for w in at.warning)
    assert at.sidebar.radio(key="text_source").value == "corpus"


def test_train_a_text_task_then_see_its_sentence_map_and_word_vectors():
    from sslcore.runs import RunStore

    at = sign_in(AppTest.from_file(APP, default_timeout=TIMEOUT).run(), "ada")
    at.switch_page("views/train.py").run()
    at.get("button_group")[0].set_value("text").run()
    assert not at.exception, at.exception
    at.multiselect(key="tasks_text").set_value(["skip_gram"])
    at.checkbox[0].set_value(False)
    at.slider(key="budget").set_value(2)
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception, at.exception
    assert any("Queued 2 runs" in s.value for s in at.success)

    store = RunStore()
    assert wait_until(lambda: all(r.done for r in store.list()), 240), [(r.status, r.error) for r in store.list()]
    assert {r.status for r in store.list()} == {"succeeded"}
    assert all(r.config["dataset"] == "corpus" and r.config["backbone"] == "transformer" for r in store.list())

    at.switch_page("views/results.py").run()
    assert not at.exception, at.exception
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("random init (baseline)" in s and "skip gram" in s for s in specs)
    assert any("astronomy" in s for s in specs)  # the sentence map is coloured by topic
    assert any("Word vectors" in h.value for h in at.subheader)
    neighbours = at.selectbox(key=next(s.key for s in at.selectbox if s.key.startswith("word-")))
    assert neighbours.options and any("`" in m.value for m in at.markdown)
