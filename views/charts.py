"""Every chart of the Train and Results pages, as pure functions: plain data or typed records in, a plotly Figure out.

No streamlit here: the pages only ``st.plotly_chart`` what these return, and ``tests/test_charts.py`` calls
them with real records and checks the traces. Data shaping that is not drawing (which runs, which points,
what scale) lives in sslcore (``sslcore.report``, ``sslcore.learned``, ``sslcore.sweeps``); this module only
draws.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sslcore import lab

if TYPE_CHECKING:
    from sslcore.lab import Progress, RunResults

GREY = "#777777"
PROBE_COLOUR, KNN_COLOUR = "#332288", "#88CCEE"
LINE_COLOURS = ["#332288", "#117733", "#44AA99", "#88CCEE", "#DDCC77", "#CC6677", "#AA4499", "#882255", "#999933"]
FACTOR_DASH = "dot"
RANDOM_INIT_NAME = "random init (baseline)"


# --------------------------------------------------------------------------------------- Train: live runs
LIVE_POINTS = 200  # the most points a live chart draws: a page redraws it at every poll, however long the run


def downsample(items: list, limit: int = LIVE_POINTS) -> list:
    """At most ``limit`` items, evenly spread over ``items``, the first and the last always kept (the newest
    point is the one a person watches)."""
    if limit < 2:
        raise ValueError(f"limit must be at least 2, not {limit}")
    if len(items) <= limit:
        return list(items)
    stride = (len(items) - 1) / (limit - 1)
    return [items[round(i * stride)] for i in range(limit)]


def small_chart(x, ys: dict, title: str) -> go.Figure:
    """A small line chart over training seconds: one line per entry of ``ys``."""
    fig = go.Figure([go.Scatter(x=x, y=y, mode="lines", name=name) for name, y in ys.items()])
    fig.update_layout(title=title, height=220, margin=dict(l=10, r=10, t=30, b=10), showlegend=len(ys) > 1)
    fig.update_xaxes(title="training seconds")
    return fig


def training_curves(events: list[Progress], accuracy: bool = False) -> go.Figure | None:
    """Loss and pretext metric of a run's step events over training seconds (None before the first step), at
    most LIVE_POINTS of them. ``accuracy``: the metric is an accuracy, drawn in % as Results shows accuracies."""
    steps = downsample([e for e in events if e.kind == "step"])
    if not steps:
        return None
    metric = [None if e.metric is None else 100 * e.metric for e in steps] if accuracy else [e.metric for e in steps]
    return small_chart(
        [e.elapsed for e in steps],
        {"loss": [e.loss for e in steps], "pretext accuracy (%)" if accuracy else "pretext": metric},
        "loss and pretext accuracy (%)" if accuracy else "loss and pretext metric",
    )


def knn_during_run(events: list[Progress]) -> go.Figure:
    """The downstream kNN accuracy (%) of a run's probe events over training seconds, at most LIVE_POINTS of them."""
    probes = downsample([e for e in events if e.kind == "probe"])
    fig = small_chart([p.elapsed for p in probes], {"kNN": [100 * p.knn for p in probes]}, "downstream kNN accuracy (%)")
    fig.update_yaxes(title="kNN accuracy (%)")
    return fig


# ------------------------------------------------------------------------------------------ Results
def probe_curves(curves: list[tuple[str, RunResults]]) -> go.Figure:
    """kNN accuracy (%) during training, one line per (name, results)."""
    fig = go.Figure()
    for name, results in curves:
        points = results.probe_curve or []
        fig.add_trace(go.Scatter(x=[p.elapsed for p in points], y=[100 * p.knn for p in points], name=name))
    fig.update_layout(
        title="Downstream kNN accuracy during training",
        xaxis_title="training seconds",
        yaxis_title="kNN accuracy (%)",
        height=340,
    )
    return fig


def by_task(rows: list[dict]) -> dict[str, list[dict]]:
    """Rows grouped by their "task" (a run's name without its seed: ``lab.run_names``), in first-seen order."""
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["task"], []).append(row)
    return out


def accuracy_groups(rows: list[dict]) -> dict[str, list[dict]]:
    """Result rows (``lab.result_rows``) per name (the seeds of one setting together), random init first: the
    group's own baseline runs, else the baseline every run carries."""
    base = [r for r in rows if r.get("kind") == lab.RANDOM_INIT]
    if not base:
        first = rows[0]
        base = [{"linear_probe": first["baseline_probe"], "knn": first["baseline_knn"]}]
    return {lab.RANDOM_INIT_WORDS: base, **by_task([r for r in rows if r.get("kind") != lab.RANDOM_INIT])}


def accuracy_figure(rows: list[dict]) -> go.Figure:
    """Linear probe and kNN per run name: the mean over seeds as a bar, each seed as a dot, the spread as a
    whisker (min to max), chance as a dashed line, every bar's context in its hover."""
    tasks = accuracy_groups(rows)
    order = list(tasks)
    names = [RANDOM_INIT_NAME if t == lab.RANDOM_INIT_WORDS else t for t in order]
    fig = go.Figure()
    for metric, label, colour in (("linear_probe", "linear probe", PROBE_COLOUR), ("knn", "kNN (k=20)", KNN_COLOUR)):
        stats = [lab.spread([r[metric] for r in tasks[t]]) for t in order]
        fig.add_bar(
            name=label,
            x=names,
            y=[100 * s["mean"] for s in stats],
            marker_color=colour,
            offsetgroup=metric,
            error_y=dict(
                type="data",
                symmetric=False,
                array=[100 * (s["max"] - s["mean"]) for s in stats],
                arrayminus=[100 * (s["mean"] - s["min"]) for s in stats],
                visible=any(s["n"] > 1 for s in stats),
                color=GREY,
            ),
            customdata=[
                [s["n"], 100 * s["min"], 100 * s["max"], tasks[t][0].get("context", "")] for t, s in zip(order, stats)
            ],
            hovertemplate="%{x}: %{y:.1f}% (mean of %{customdata[0]} seeds, %{customdata[1]:.1f}–%{customdata[2]:.1f}%)"
            "<br>%{customdata[3]}<extra>" + label + "</extra>",
        )
        if any(s["n"] > 1 for s in stats):
            fig.add_scatter(
                x=[names[i] for i, t in enumerate(order) for _ in tasks[t]],
                y=[100 * r[metric] for t in order for r in tasks[t]],
                mode="markers",
                marker=dict(color="black", size=6, symbol="circle-open"),
                offsetgroup=metric,
                name=f"{label}: each seed",
                showlegend=metric == "linear_probe",
            )
    classes = max((r.get("num_classes") or 0 for r in rows), default=0)
    if chance := lab.chance_points(classes):
        fig.add_hline(
            y=chance,
            line_dash="dash",
            line_color=GREY,
            annotation_text=f"chance {chance:.1f}% ({classes} classes)",
            annotation_position="top left",
        )
    fig.update_layout(
        barmode="group",
        yaxis_title="test accuracy (%)",
        yaxis_range=[0, 100],
        height=400,
        margin=dict(t=30),
        legend=dict(orientation="h", y=1.08),
    )
    return fig


def pretext_figure(points: list[dict]) -> go.Figure:
    """Pretext success (``lab.pretext_points``: 0 = chance, 1 = perfect) against linear-probe accuracy."""
    fig = go.Figure()
    for task, rows in by_task(points).items():
        fig.add_scatter(
            x=[p["x"] for p in rows],
            y=[p["y"] for p in rows],
            mode="markers+text",
            name=task,
            text=[task] * len(rows),
            textposition="top center",
            cliponaxis=False,
            customdata=[[p["raw"], p["scale"]] for p in rows],
            hovertemplate="<b>%{text}</b><br>%{customdata[0]}<br>on the common scale: %{x:.2f} "
            "(%{customdata[1]})<br>linear probe %{y:.1f}%<extra></extra>",
        )
    fig.add_vline(x=0, line_dash="dash", line_color=GREY, annotation_text="chance", annotation_position="bottom right")
    fig.add_vline(x=1, line_dash="dot", line_color=GREY, annotation_text="perfect", annotation_position="bottom left")
    fig.update_layout(
        title="Better at the pretext task → better features?",
        xaxis_title="pretext success: 0 = chance, 1 = perfect (each task's own metric, rescaled)",
        yaxis_title="linear probe accuracy (%)",
        xaxis_range=[-0.15, 1.15],
        yaxis_range=[0, 105],
        height=380,
        margin=dict(l=60, r=30, t=50, b=60),
        showlegend=False,
    )
    return fig


def embedding_map(embedding: dict, class_names: list[str], title: str, legend: bool = True) -> go.Figure:
    """A run's 2-D map of its test examples, one trace per class; each point's ``customdata`` is its row in
    the embedding (what a selection hands back)."""
    fig = go.Figure()
    for label in sorted(set(embedding["labels"].tolist())):
        mask = embedding["labels"] == label
        fig.add_trace(
            go.Scattergl(
                x=embedding["coords"][mask, 0],
                y=embedding["coords"][mask, 1],
                mode="markers",
                marker=dict(size=5, color=lab.CLASS_COLOURS[label % len(lab.CLASS_COLOURS)]),
                name=class_names[label] if label < len(class_names) else str(label),
                customdata=mask.nonzero()[0],
            )
        )
    fig.update_layout(title=title, height=360, margin=dict(l=5, r=5, t=30, b=5), showlegend=legend)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def word_map(embedding: dict, title: str, labelled: int = 120) -> go.Figure:
    """A text run's word vectors in 2-D: every word as a point (hover for it), the ``labelled`` most frequent
    written out."""
    words, coords = embedding["words"].tolist(), embedding["word_coords"]
    shown = min(labelled, len(words))
    fig = go.Figure(
        go.Scattergl(
            x=coords[:, 0],
            y=coords[:, 1],
            mode="markers",
            marker=dict(size=4, color=KNN_COLOUR),
            text=words,
            hoverinfo="text",
        )
    )
    fig.add_trace(
        go.Scatter(x=coords[:shown, 0], y=coords[:shown, 1], mode="text", text=words[:shown], textfont=dict(size=10))
    )
    fig.update_layout(title=title, height=420, margin=dict(l=5, r=5, t=30, b=5), showlegend=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def confusion_figure(counts: list[list[int]], names: list[str], task: str, fine_tuned: bool = False) -> go.Figure:
    """The linear probe's confusion matrix: counts as text, the share of each true class as colour. ``task``: the
    run's name; ``fine_tuned``: the run is a fine-tune, whose probe reads its fine-tuned backbone."""
    rows = [sum(row) for row in counts]
    share = [[100 * c / max(1, total) for c in row] for row, total in zip(counts, rows)]
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=names,
            y=names,
            text=counts,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=100,
            colorbar=dict(title="% of the row"),
            hovertemplate="true %{y}, predicted %{x}: %{text} images (%{z:.0f}% of %{y})<extra></extra>",
        )
    )
    total, right = sum(rows), sum(counts[i][i] for i in range(len(counts)))
    fig.update_layout(
        title=f"{lab.PROBE_OF_FINETUNED.capitalize()} ({task}): {right} of {total} test examples right"
        if fine_tuned
        else f"Linear probe on {task}'s features: {right} of {total} test examples right",
        xaxis_title="predicted class",
        yaxis_title="true class",
        yaxis_autorange="reversed",
        height=max(360, 28 * len(names) + 140),
        margin=dict(l=80, r=20, t=50, b=80),
    )
    return fig


# ----------------------------------------------------------------------------- Results: what it learned
def label_x(k, rows) -> float:
    """Where k sits on the log axis: "all" just right of the largest k (it is labelled, not to scale)."""
    if k != lab.ALL:
        return float(k)
    return 2.5 * max([float(r["labels_per_class"]) for r in rows if r["labels_per_class"] != lab.ALL] or [25.0])


READ_OUT = {"linear_probe": "linear probe", "knn": "kNN"}


def few_label_figure(rows: list[dict], ceiling: dict | None) -> go.Figure:
    """Accuracy against labels per class (``lab.curve_rows``), one line per run; supervised from scratch a
    dashed black line (across the chart, its dots at the k it was trained on, when it has one k only), random
    init dotted grey, the supervised-on-all ceiling as a line read out the same way as the curves."""
    fig = go.Figure()
    xs = [label_x(r["labels_per_class"], rows) for r in rows]
    for i, name in enumerate(dict.fromkeys(r["run"] for r in rows)):
        own = sorted((r for r in rows if r["run"] == name), key=lambda r: label_x(r["labels_per_class"], rows))
        scratch, base = name == lab.SCRATCH, name == "random init"
        x, y = [label_x(r["labels_per_class"], rows) for r in own], [100 * r["value"] for r in own]
        if scratch and len(own) == 1:  # one k: a dashed reference across the chart, the dot where it was measured
            ks = own[0]["labels_per_class"]
            x, y = [min(xs), *x, max(xs)], [y[0], *y, y[0]]
            name = f"{name} on {lab.labels_words(None if ks == lab.ALL else ks)} (dashed line; dot: where measured)"
        elif scratch:
            name = f"{name}, trained on k labels/class (dashed line)"
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                error_y=None if scratch else dict(type="data", array=[100 * (r["spread"] or 0) for r in own]),
                name=name,
                mode="lines+markers",
                marker=dict(size=[0, 9, 0] if scratch and len(own) == 1 else 7),
                line=dict(
                    color="black" if scratch else "#999999" if base else LINE_COLOURS[i % len(LINE_COLOURS)],
                    dash="dash" if scratch else "dot" if base else "solid",
                    width=3 if scratch else 2,
                ),
            )
        )
    if ceiling:
        fig.add_hline(
            y=100 * ceiling["value"],
            line_dash="dot",
            line_color="#CC6677",
            annotation_text=f"supervised on all labels, {READ_OUT.get(ceiling.get('metric'), 'linear probe')} (ceiling)",
            annotation_position="top left",
        )
    ticks = sorted(set(xs))
    labels = {label_x(r["labels_per_class"], rows): str(r["labels_per_class"]) for r in rows}
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[labels[t] for t in ticks], title="labels per class (log)")
    fig.update_layout(yaxis_title="test accuracy (%)", height=420, margin=dict(t=20))
    return fig


def finetune_figure(rows: list[dict], k) -> go.Figure:
    """Frozen linear probe beside the fine-tuned network at k labels per class, medians over the same label
    draws with their spread as error bars (``lab.bar_rows``)."""
    names = [r["run"] for r in rows]
    fig = go.Figure(
        [
            go.Bar(
                name=f"linear probe @ {k} (frozen)",
                x=names,
                marker_color=KNN_COLOUR,
                y=[None if r["probe"] is None else 100 * r["probe"] for r in rows],
                error_y=dict(type="data", array=[100 * (r["probe_spread"] or 0) for r in rows]),
            ),
            go.Bar(
                name=f"fine-tuned @ {k} (median of draws)",
                x=names,
                marker_color=PROBE_COLOUR,
                y=[None if r["finetune"] is None else 100 * r["finetune"] for r in rows],
                error_y=dict(type="data", array=[100 * (r.get("finetune_spread") or 0) for r in rows]),
            ),
        ]
    )
    fig.update_layout(barmode="group", yaxis_title="test accuracy (%)", height=380, margin=dict(t=20))
    return fig


def factor_figure(names: list[str], rows: list[dict]) -> go.Figure:
    """Each run's factor probes (``lab.factor_rows``, random init left out) as a heat map coloured by the
    change against random init, the score written in each cell."""
    shown = [r for r in rows if r["task"] != lab.RANDOM_INIT]
    z = [[r["relative"].get(n) for n in names] for r in shown]
    text = [[f"{r['scores'][n]:.2f}" if n in r["scores"] else "" for n in names] for r in shown]
    biggest = max([abs(v) for row in z for v in row if v is not None] or [0.1])
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"{n} ({rows[0]['metrics'][n]})" for n in names],
            y=[r["run"] for r in shown],
            text=text,
            texttemplate="%{text}",
            colorscale="RdBu",
            zmid=0,
            zmin=-biggest,
            zmax=biggest,
            colorbar=dict(title="vs random init"),
            hovertemplate="%{y}<br>%{x}: %{text} (%{z:+.2f} vs random init)<extra></extra>",
        )
    )
    fig.update_layout(height=120 + 40 * len(shown), margin=dict(t=20), yaxis=dict(autorange="reversed"))
    return fig


# ---------------------------------------------------------------------------- Results: which layer holds what
def stage_figure(panels: list[dict]) -> go.Figure:
    """Small multiples, one per run (``lab.stage_panel``): linear-probe accuracy (%) per backbone stage, random
    init's per stage (dashed), chance (dotted) and the best stage starred; one y axis for all panels."""
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=[p["name"] for p in panels], shared_yaxes=True,
        horizontal_spacing=0.04, vertical_spacing=0.25 / max(rows, 1),
    )
    for i, panel in enumerate(panels):
        at, first = dict(row=i // cols + 1, col=i % cols + 1), i == 0
        x = [s.replace(" (", "<br>(") for s in panel["stages"]]
        colour = LINE_COLOURS[i % len(LINE_COLOURS)]
        fig.add_trace(go.Scatter(
            x=x, y=[100 * v for v in panel["probe"]], name="linear probe", legendgroup="probe", showlegend=first,
            mode="lines+markers", line=dict(color=colour, width=3),
            hovertemplate="%{x}: %{y:.1f}%<extra>" + panel["name"] + "</extra>",
        ), **at)
        if panel["baseline"] is not None:
            fig.add_trace(go.Scatter(
                x=x, y=[100 * v for v in panel["baseline"]], name=RANDOM_INIT_NAME, legendgroup="random",
                showlegend=first, mode="lines+markers", line=dict(color=GREY, dash="dash"),
                hovertemplate="%{x}: %{y:.1f}%<extra>random init</extra>",
            ), **at)
        if panel["chance"] is not None:
            fig.add_trace(go.Scatter(
                x=x, y=[100 * panel["chance"]] * len(x), name="chance", legendgroup="chance", showlegend=first,
                mode="lines", line=dict(color=GREY, dash="dot", width=1), hoverinfo="skip",
            ), **at)
        best = panel["best"]
        fig.add_trace(go.Scatter(
            x=[x[best]], y=[100 * panel["probe"][best]], name="best stage", legendgroup="best", showlegend=first,
            mode="markers+text", marker=dict(symbol="star", size=16, color=colour), text=["best"],
            textposition="top center", hovertemplate="best: %{x}, %{y:.1f}%<extra></extra>",
        ), **at)
    fig.update_yaxes(range=[0, 105])
    fig.update_yaxes(title_text="linear probe (%)", col=1)
    fig.update_xaxes(type="category")
    fig.update_layout(
        height=300 * rows + 40, margin=dict(t=40, b=10), legend=dict(orientation="h", y=-0.2 if rows == 1 else -0.08)
    )
    return fig


# --------------------------------------------------------------------------------------- Results: sweeps
def sweep_figure(points: list[dict], knob: str, task: str) -> go.Figure:
    """One x position per knob value (``lab.sweep_points``); percentages on one axis (factor probes as their
    own scores × 100)."""
    x = [str(p["value"]) for p in points]
    hover = [f"{p['steps']:.0f} steps · {lab.plural(p['runs'], 'run')}" if p["steps"] is not None else "" for p in points]

    def line(name, values, **style):
        return go.Scatter(
            x=x,
            y=[None if v is None else 100 * v for v in values],
            name=name,
            mode="lines+markers",
            customdata=hover,
            hovertemplate="%{y:.1f} · %{customdata}",
            **style,
        )

    fig = go.Figure()
    if any(p["pretext_score"] is not None for p in points):
        fig.add_trace(
            line("pretext (0 = chance, 100 = solved)", [p["pretext_score"] for p in points], line=dict(color="#CC6677"))
        )
    fig.add_trace(line("linear probe (%)", [p["linear_probe"] for p in points], line=dict(color=PROBE_COLOUR, width=3)))
    fig.add_trace(line("kNN (%)", [p["knn"] for p in points], line=dict(color=KNN_COLOUR)))
    fig.add_trace(
        line("random init probe (%)", [p["baseline_probe"] for p in points], line=dict(color="#999999", dash="dash"))
    )
    for name in sorted({n for p in points for n in p["factors"]} - {"class"}):
        fig.add_trace(
            line(f"factor: {name}", [p["factors"].get(name) for p in points], line=dict(dash=FACTOR_DASH, width=1.5))
        )
    fig.update_layout(
        title=f"{task}: what changes with {knob}",
        xaxis_title=knob,
        yaxis_title="score (%)",
        height=420,
        margin=dict(t=40),
        legend=dict(orientation="h", y=-0.25),
    )
    fig.update_xaxes(type="category")
    return fig
