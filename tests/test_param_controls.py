"""Explore's knob controls (views.ui.param_widget) for knobs that param() leaves without a range.

``param()`` allows a number without ``min`` / ``max``; the page must still build a control for it (it once
called ``int(spec.min)`` and crashed). A real Streamlit script, run headless with AppTest.
"""

from streamlit.testing.v1 import AppTest

TIMEOUT = 60


def controls_script():
    from dataclasses import asdict, dataclass

    import streamlit as st

    from sslcore.tasks.base import make_params, param, param_specs
    from views.ui import param_widget

    @dataclass
    class Params:
        count: int = param(3, "A whole number with no range.")
        scale: float = param(0.25, "A number with no range.")
        floor: int = param(2, "Only a lower bound.", min=1)
        steps: int = param(4, "A bounded knob keeps its slider.", min=1, max=8)

    values = {spec.name: param_widget(spec, f"mine.{spec.name}") for spec in param_specs(Params)}
    st.markdown(f"values: {values!r}")
    st.markdown(f"params: {asdict(make_params(Params, values))!r}")  # what the run would get


def app() -> AppTest:
    at = AppTest.from_function(controls_script, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def shown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def test_knobs_without_a_range_get_number_boxes_with_their_defaults():
    at = app()
    assert at.number_input(key="mine.count").value == 3
    assert at.number_input(key="mine.scale").value == 0.25
    assert at.number_input(key="mine.floor").value == 2 and at.number_input(key="mine.floor").min == 1
    assert at.slider(key="mine.steps").value == 4  # both ends known: still a slider
    assert "values: {'count': 3, 'scale': 0.25, 'floor': 2, 'steps': 4}" in shown(at)


def test_any_number_can_be_typed_into_an_open_ended_knob_and_keeps_its_type():
    at = app()
    at.number_input(key="mine.count").set_value(1000).run()
    at.number_input(key="mine.scale").set_value(12.5).run()
    assert not at.exception, at.exception
    assert "values: {'count': 1000, 'scale': 12.5, 'floor': 2, 'steps': 4}" in shown(at)
    assert "params: {'count': 1000, 'scale': 12.5, 'floor': 2, 'steps': 4}" in shown(at)
