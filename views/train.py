"""Train: start one run or a comparison group, and watch the live queue (the worker does the training)."""

import streamlit as st

from sslcore import lab
from views.budget import compute_budget, seconds_picker, spent_caption, under_budget_warning
from views.charts import knn_during_run, training_curves
from views.cluster import show_queue_place
from views.owner import can_change, me, owner_or_ask, owner_words, refused, teacher_token
from views.task_builder import custom_task_options
from views.train_sweep import sweep_form
from views.ui import TEXT_LIMITS, UPLOAD_LIMITS, shapes_size_input, start_worker, store_or_stop

QUEUE_SHOWN = 10
POLL_S = 2  # how often the queue's live part rereads the store while runs are queued or running
CHART_EVERY_S = 10  # how often a running run's charts are redrawn (its progress bar: at every poll)
DEFAULT_TASKS = {"image": ["rotation"], "text": ["masked_language"]}
STATUS_ICON = {"queued": "⏳", "running": "🏃", "succeeded": "✅", "failed": "❌", "cancelled": "🚫"}
UPLOAD_SUFFIX = {"image": ".zip", "text": ".csv"}  # what a training upload is, per modality

st.title("🏋️ Train")
store = store_or_stop()


modality = st.segmented_control(
    "Data", ["image", "text"], format_func={"image": "🖼️ Images", "text": "🔤 Text"}.get, key="modality", default="image"
)
modality = modality or "image"
text_data = modality == "text"

st.markdown("**New comparison** — every run gets the same compute; the random-init baseline is added.")
budget = seconds_picker(modality)
with st.form("new_runs"):
    left, right = st.columns(2)
    custom = custom_task_options() if modality == "image" else {}  # your saved designs (and published ones)
    tasks = left.multiselect(
        "Pretext tasks",
        [t.name for t in lab.list_tasks(modality)] + list(custom),
        default=DEFAULT_TASKS[modality],
        format_func=lambda n: custom[n][0] if n in custom else lab.TASKS[n].title,
        key=f"tasks_{modality}",
    )
    supervised = left.checkbox("Add the supervised reference (uses real labels)", value=True)
    choices = lab.data_menu("train", modality)
    dataset = right.selectbox("Dataset", list(choices), format_func=choices.get, key=f"dataset_{modality}")
    upload = right.file_uploader(
        "Training CSV (used when the dataset is your CSV)" if text_data else "Training zip (used when the dataset is your zip)",
        type=["csv"] if text_data else ["zip"],
        help=("A 'text' column and a 'label' column. " + TEXT_LIMITS)
        if text_data
        else "One folder per class, images inside. " + UPLOAD_LIMITS,
        key=f"upload_{modality}",
    )
    seed = right.number_input("Seed", 0, lab.MAX_SEED, 0)
    seeds = left.number_input(
        "Repeats (seeds)",
        1,
        lab.MAX_SEEDS,
        1,
        help="Run each task this many times, with seeds seed, seed+1, …: Results draws the spread, so a real "
        "difference can be told from noise.",
    )
    device = right.selectbox("Device", lab.available_devices(), help="auto: the GPU when there is one, else the CPU")
    with st.expander("Advanced"):
        a, b, c = st.columns(3)
        batch_size = a.select_slider("Batch size", lab.BATCH_SIZES, value=256)
        optimizer = b.selectbox("Optimizer", list(lab.OPTIMIZERS))
        lr = c.number_input("Learning rate (0 = default)", 0.0, 10.0, 0.0, format="%.4f")
        backbone = a.selectbox("Backbone", lab.backbones_for(modality))
        n = shapes_size_input(b, "Dataset size (shapes)", disabled=text_data)
        backbone_size = c.text_input(
            "Backbone size (empty = its default)",
            key=f"backbone_args_{modality}",
            help="The backbone's constructor arguments as key=value, several separated by spaces, e.g. "
            "widths=16,32,64,128 for a narrower small CNN or depth=4 for a deeper transformer. "
            f"Each backbone's arguments: {lab.describe_backbones()}.",
        )
    submitted = st.form_submit_button("Start", type="primary")

if submitted and (owner := owner_or_ask()):
    try:
        names = [*tasks, *([lab.SUPERVISED] if supervised else [])]
        if not names:
            raise lab.PretextLabError("pick at least one task")
        backbone_args = lab.parse_backbone_args(backbone_size.replace(";", " ").split())
        if dataset == lab.UPLOAD:
            if upload is None:
                what = "a CSV with text and label columns" if text_data else "a zip with one folder per class"
                raise lab.PretextLabError(f"upload {what}, or pick a built-in dataset")
            source = lab.save_upload(upload.getvalue(), upload.name, UPLOAD_SUFFIX[modality])
        else:
            source = dataset
        configs = [
            lab.TrainConfig(
                **({"task": lab.CUSTOM, "params": {"definition": custom[name][1]}} if name in custom else {"task": name}),
                dataset=source,
                **compute_budget(budget, backbone, device, backbone_args),
                seed=int(seed) + repeat,
                device=device,
                batch_size=batch_size,
                optimizer=optimizer,
                lr=lr or None,
                backbone=backbone,
                backbone_args=backbone_args,
                n=int(n) if dataset == "shapes" else None,
            )
            for repeat in range(int(seeds))
            for name in names
        ]
        group, ids = store.submit_group(configs, owner=owner)
        st.session_state.group = group
        start_worker(just_queued=True)
        st.success(
            f"Queued {lab.plural(len(ids), 'run')} (with the random-init baseline), "
            f"{lab.format_flops(configs[0].compute)} each."
        )
    except lab.PretextLabError as err:
        st.error(str(err), icon="⚠️")

sweep_form(store, modality)


def change_run(verb: str, run_id: str) -> None:
    """Cancel or delete as this person; the store refuses anyone but the owner or the teacher."""
    st.session_state.pop("refused", None)
    try:
        getattr(store, verb)(run_id, by=me(), token=teacher_token())
    except lab.NotAllowed as err:
        st.session_state.refused = (run_id, err)
    except lab.PretextLabError as err:  # e.g. deleting a run that is still running
        st.session_state.refused = (run_id, err)


def card_names(runs: list) -> dict[str, str]:
    """The shown runs' names, told apart among each other (sslcore.names); a fine-tune whose source is not
    listed finds it in the store."""
    return lab.run_labels(runs, store.get)


def outcome(run) -> str:
    """What a finished run scored, in %: a fine-tune its fine-tuned network's accuracy (its one number); any
    other run its frozen features' linear probe and kNN against random init."""
    r = run.results_record
    tuned = lab.finetuned_accuracy(run)
    if tuned is not None:
        draws = (r.finetune or {}).get("draws") or 1
        return f"fine-tuned accuracy {100 * tuned:.1f}% (median of {lab.plural(draws, 'label draw')})"
    return (
        f"linear probe {100 * r.linear_probe:.1f}% · kNN {100 * r.knn:.1f}% · "
        f"random init {100 * r.baseline.linear_probe:.1f}%"
    )


def run_card(run, name: str) -> None:
    """One run: its name, status and owner; its details line (data, seed, id); progress or what it scored."""
    with st.container(border=True):
        head, actions = st.columns([5, 1])
        head.markdown(f"{STATUS_ICON[run.status]} **{name}** · {run.status} · by {owner_words(run.owner)}")
        head.caption(f"{lab.dataset_label(run.config['dataset'])} · seed {run.config.get('seed')} · run id {run.id}")
        if can_change(run):  # everyone may look; only the owner or the teacher gets the buttons (the store checks too)
            verb = "cancel" if run.status in ("queued", "running") else "delete"
            actions.button(verb.title(), key=f"{verb}-{run.id}", on_click=change_run, args=(verb, run.id))
        if (note := st.session_state.get("refused")) and note[0] == run.id:
            refused(note[1])
        if run.status == "failed":
            st.error(run.error or "failed", icon="❌")
        progress = run.progress_record or lab.Progress(kind="starting")
        unit = "sentences" if lab.dataset_modality(run.config.get("dataset") or "") == "text" else "img"
        if run.status == "running" and progress.kind == "step":
            st.progress(
                min(1.0, progress.progress),
                text=f"{100 * progress.progress:.0f}% · loss {progress.loss:.3f} · "
                f"{progress.images_per_s:.0f} {unit}/s · ETA {progress.eta:.0f} s",
            )
        elif run.status == "running" and progress.kind == "evaluating":  # measured from past evaluations here
            fraction, words = lab.evaluation_phase(store, run)
            st.progress(fraction or 0.0, text=words or progress.kind)
        elif run.status == "running":
            st.progress(0.0, text=progress.kind)
        if run.status == "succeeded" and run.results:
            r = run.results_record
            st.caption(f"{outcome(run)} · {spent_caption(r)} on {r.device}")
            under_budget_warning(run, name)
            for warning in lab.flags({**run.results, "task": run.task}, run.config):
                st.warning(warning, icon="⚠️")


def live_charts() -> None:
    """Loss and kNN of the runs training now (the worker trains one at a time), in a fragment of their own that
    redraws every CHART_EVERY_S: a redrawn plotly chart is the costliest thing a watching page does, even
    unchanged, so the queue's polls do not redraw them. Finished runs' curves are on Results."""
    try:
        running = [r for r in store.list(status="running", limit=QUEUE_SHOWN) if r.task != lab.RANDOM_INIT]
        names = card_names(running)
        for run in running:
            accuracy = lab.metric_is_accuracy(run.task, run.config.get("params"))
            loss, knn = live_figures(run.id, store.last_seq(run.id), accuracy)
            if loss:
                st.markdown(f"**Training now** · {names[run.id]}")
                if knn is None:  # a fine-tune probes nothing while it trains: its loss alone, full width
                    st.plotly_chart(loss, key=f"loss-{run.id}")
                    continue
                c1, c2 = st.columns(2)
                c1.plotly_chart(loss, key=f"loss-{run.id}")
                c2.plotly_chart(knn, key=f"knn-{run.id}")
    except lab.PretextLabError:  # the queue above says what is wrong
        pass


@st.cache_resource(max_entries=8, show_spinner=False)
def live_figures(run_id: str, seq: int, accuracy: bool):
    """A running run's loss and kNN figures as of its event ``seq``, from at most charts.LIVE_POINTS points each:
    read and built once per new event, however many pages watch the run (they only read them). kNN is None
    for a run without probe events (a fine-tune), rather than an empty chart. ``accuracy``: its pretext metric
    is an accuracy, drawn in %."""
    events = store.progress_since(run_id)
    probed = any(e.kind == "probe" for e in events)
    return training_curves(events, accuracy), knn_during_run(events) if probed else None


def shown(runs: list, mine: str | None) -> list:
    """The queue is shared by the class: the newest ten runs and this session's own comparison."""
    return [r for i, r in enumerate(runs) if i < QUEUE_SHOWN or r.group_id == mine]


def live_queue(watched: frozenset, mine: str | None) -> None:
    """What changes while runs are queued or running: the header and their cards, with a running run's progress.
    ``watched`` is the unfinished runs when the page last ran whole: once that set changes (a run
    ended, someone queued one), the whole page reruns, so the finished run joins the cards drawn once below it
    and, with nothing left unfinished, the polling stops."""
    try:
        runs = store.list(limit=30)
        if any(r.status == "running" for r in runs):
            store.reap_stale()
        active = [r for r in runs if not r.done]
        if frozenset(r.id for r in active) != watched:
            st.rerun(scope="app")
        st.subheader(f"Queue · {len(active)} active")
        show_queue_place(store, me())
        if not runs:
            st.info("No runs yet: pick tasks above and press Start.")
        elif not active:
            left, right = st.columns([5, 1])
            left.caption("Nothing is queued or running, so this list does not refresh by itself.")
            right.button("Refresh", key="refresh_queue", icon="🔄")  # reruns this part: new runs restart polling
        listed = shown(runs, mine)
        names = card_names(listed)
        for run in listed:
            if not run.done:
                run_card(run, names[run.id])
    except lab.PretextLabError as err:  # locked or damaged store: say so, and try again at the next poll
        st.error(f"The run queue cannot be read right now: {err}", icon="🛑")


# Every open Train page of the class watches the queue, on the machine that trains. So only its unfinished part
# polls (every POLL_S s), only running runs have charts (redrawn every CHART_EVERY_S, from at most LIVE_POINTS
# points), and a page with nothing queued or running does not poll at all. benchmarks/watch_cost.py, one page
# and a comparison of 9-13 runs: watching a run cost 8.4 CPU s per 30 s (server + Chromium), now 2.4; idle,
# 4.0 CPU s per 20 s, now 0.1. Before, a watching page took about half a run's training speed on two cores.
try:
    runs = store.list(limit=30)
    mine = st.session_state.get("group") or store.latest_group(owner=me())
    watched = frozenset(r.id for r in runs if not r.done)
except lab.PretextLabError:  # the live part says what is wrong, and polls until the store answers again
    runs, mine, watched = [], None, None
polling = watched is None or bool(watched)
st.fragment(run_every=POLL_S if polling else None)(live_queue)(watched, mine)
st.fragment(run_every=CHART_EVERY_S if polling else None)(live_charts)()  # below the running run's card, mostly
listed = shown(runs, mine)
names = card_names(listed)
for run in listed:
    if run.done:  # drawn once per page run: a finished run does not change
        run_card(run, names[run.id])
if len(listed) < len(runs):
    st.caption(f"{len(runs) - len(listed)} older runs are on the Results page.")
