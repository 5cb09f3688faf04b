import pytest

from sslcore.errors import ConfigError
from sslcore.tasks import TASKS, get_task, param_specs
from sslcore.tasks.base import parse_param_args


def test_every_param_has_help_and_a_valid_default():
    for cls in TASKS.values():
        for spec in param_specs(cls.Params):
            assert spec.help, f"{cls.name}.{spec.name} has no help text"
            if spec.choices:
                assert spec.default in spec.choices
            if spec.min is not None:
                assert spec.min <= spec.default <= spec.max


def test_strings_from_cli_or_url_are_coerced():
    task = get_task("jigsaw", {"grid": "3", "gap": "1", "jitter": "false", "permutations": "64"})
    assert (task.params.grid, task.params.gap, task.params.jitter, task.params.permutations) == (3, 1, False, 64)
    assert get_task("masked_image", {"mask_ratio": "0.75"}).params.mask_ratio == 0.75


@pytest.mark.parametrize(
    "name,values,message",
    [
        ("jigsaw", {"grid": "5"}, "must be one of 2, 3"),
        ("jigsaw", {"gap": "-1"}, "below its minimum"),
        ("masked_image", {"mask_ratio": "7"}, "above its maximum"),
        ("masked_image", {"mask_ratio": "nan"}, "finite"),
        ("rotation", {"all_rotations": "maybe"}, "true or false"),
        ("rotation", {"angels": "4"}, "unknown parameter"),
        ("jigsaw", {"gap": "2.5"}, "jigsaw|gap"),
    ],
)
def test_bad_params_are_clear_errors(name, values, message):
    with pytest.raises(ConfigError, match=message):
        get_task(name, values)


def test_unknown_task_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="rotation"):
        get_task("rotate")


def test_parse_param_args():
    assert parse_param_args(["a=1", " b = x "]) == {"a": "1", "b": "x"}
    with pytest.raises(ConfigError, match="key=value"):
        parse_param_args(["oops"])
