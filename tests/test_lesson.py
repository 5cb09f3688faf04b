"""The comparison's lesson in words (sslcore/lesson.py) and the quick comparison's plan (sslcore/plans.py)."""

from sslcore.lesson import comparison_lesson, few_label_sentence, frozen_sentence
from sslcore.plans import QUICK_COMPUTE, QUICK_LABELS, QUICK_TASKS, quick_finetunes, quick_runs

TEST = 500  # test images: ±2.2 points by chance


def pretext(task, probe, base=0.20):
    return {"task": task, "linear_probe": probe, "baseline": {"linear_probe": base}, "test_images": TEST, "steps": 35, "flops": 7.5e11}


def tuned(source, accuracy, probe=None, k=10):
    ft = {"accuracy": accuracy, "labels_per_class": k, "source_task": source, "draws": 3, "test_size": TEST}
    if probe is not None:
        ft["probe"] = {"median": probe}
    return {"task": "finetune", "finetune": ft}


def test_the_frozen_sentence_names_the_best_task_and_its_margin_over_random_init():
    rows = [{"task": "random_init", "linear_probe": 0.20}, pretext("jigsaw", 0.49), pretext("relative_position", 0.54)]
    sentence = frozen_sentence(rows)
    assert sentence.startswith("relative position's frozen features reach 54.0%")
    assert "against 20.0%" in sentence and "jigsaw 49.0%" in sentence and "±2.2 points" in sentence


def test_a_gain_within_the_test_sets_noise_is_called_chance():
    sentence = frozen_sentence([pretext("rotation", 0.21)])  # 1 point over random init, noise 2.2
    assert sentence.startswith("No task's frozen features beat random init by more than chance")


def test_fine_tune_against_scratch_says_which_way_it_went():
    scratch = tuned(None, 0.086)
    assert "where the same network trained from scratch reaches 8.6%" in few_label_sentence([tuned("jigsaw", 0.25), scratch])
    assert "within chance" in few_label_sentence([tuned("jigsaw", 0.10), scratch])
    assert "did not pay off" in few_label_sentence([tuned("jigsaw", 0.03), scratch])
    assert few_label_sentence([tuned("jigsaw", 0.25)]) is None  # no scratch reference: no claim


def test_the_fine_tune_is_set_against_the_probe_it_started_from():
    scratch = tuned(None, 0.086)
    same = few_label_sentence([tuned("jigsaw", 0.186, probe=0.192), scratch])
    assert "linear probe on the same draws) reach 19.2%: fine-tuning moved it by less than chance" in same
    gained = few_label_sentence([tuned("jigsaw", 0.30, probe=0.192), scratch])
    assert "fine-tuning added 10.8 points" in gained
    lost = few_label_sentence([tuned("jigsaw", 0.12, probe=0.192), scratch])
    assert "fine-tuning lost 7.2 points" in lost


def test_the_lesson_is_empty_until_runs_can_say_something_and_starts_with_a_capital():
    assert comparison_lesson([]) == []
    lesson = comparison_lesson([pretext("jigsaw", 0.49), tuned("jigsaw", 0.25, 0.19), tuned(None, 0.09)])
    assert len(lesson) == 2 and all(s[0].isupper() for s in lesson)


def test_the_quick_plan_is_its_tasks_and_supervised_at_equal_compute_then_fine_tunes_and_scratch():
    runs = quick_runs(seed=3)
    assert [c.task for c in runs] == [*QUICK_TASKS, "supervised"]
    assert {c.compute for c in runs} == {QUICK_COMPUTE} and {c.seed for c in runs} == {3}
    assert next(c for c in runs if c.task == "simclr").batch_size == QUICK_TASKS["simclr"]["batch_size"]
    ids = [f"{i:012x}" for i in range(len(runs))]
    tunes = quick_finetunes(runs, ids)
    assert [c.init_from for c in tunes] == [*ids[: len(QUICK_TASKS)], None]  # supervised is not fine-tuned; scratch last
    assert {c.labels_per_class for c in tunes} == {QUICK_LABELS} and {c.task for c in tunes} == {"finetune"}
    assert all(c.draws >= 3 for c in tunes)
