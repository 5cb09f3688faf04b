"""Speed and quality of our t-SNE (``sslcore.evaluate.embed_2d``) against scikit-learn's default TSNE.

    python benchmarks/embedding.py [--n 2000] [--repeats 3] [--scaling 500 1000 5000]

Two sets of N 256-dim features: the "shapes" images through a randomly initialised default backbone
(what the random-init baseline of every comparison looks like), and a synthetic set of 10 overlapping
classes made of 3 sub-clusters each. For each: wall time (median of --repeats, ours and scikit-learn's
runs interleaved so both see the same machine load) and map quality: leave-one-out 10-NN accuracy of the
labels in 2-D (and in the original space, as the ceiling), scikit-learn's trustworthiness with 10
neighbours, and the KL divergence that t-SNE minimises, for one shared P: that of the full-width
features, which is what scikit-learn's default and our no-PCA variant optimise (runs that project to 50
dims first optimise another P, so their KL against this one is higher by construction). ``--scaling`` adds a table of
single runs at other sizes on the synthetic set. A last table times the linear probe against
scikit-learn's LogisticRegression on the same features. Prints Markdown tables for docs/benchmarks.md.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine  # noqa: E402
from sslcore.data import load_dataset  # noqa: E402
from sslcore.evaluate import (  # noqa: E402
    PROBE_WEIGHT_DECAY,
    _joint_probabilities,
    _torch_threads,
    _tsne,
    embed_2d,
    extract_features,
    linear_probe,
    split_indices,
)
from sslcore.models import make_backbone  # noqa: E402


def shapes_features(n: int) -> tuple[np.ndarray, np.ndarray]:
    dataset = load_dataset("shapes", n=n, size=32)
    torch.manual_seed(0)
    features = extract_features(make_backbone(), dataset.images)
    return features.numpy(), dataset.labels.numpy()


def clustered_features(n: int, dim: int = 256, classes: int = 10, subclusters: int = 3, seed: int = 0):
    """Overlapping classes, each a mix of sub-clusters: 10-NN accuracy in 256-D is ~0.85, not a trivial 1.0."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 0.22
    offsets = rng.normal(size=(classes, subclusters, dim)) * 0.22
    labels = rng.integers(0, classes, n)
    sub = rng.integers(0, subclusters, n)
    return (centres[labels] + offsets[labels, sub] + rng.normal(size=(n, dim))).astype(np.float32), labels


def sklearn_tsne(x: np.ndarray) -> np.ndarray:
    from sklearn.manifold import TSNE

    return TSNE(n_components=2, random_state=0).fit_transform(x)


def sklearn_tsne_tuned(x: np.ndarray) -> np.ndarray:
    """The cheapest scikit-learn setting noted in DESIGN.md: PCA to 50 dims first, 500 iterations."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    return TSNE(n_components=2, random_state=0, max_iter=500).fit_transform(PCA(50, random_state=0).fit_transform(x))


def ours(x: np.ndarray) -> np.ndarray:
    return embed_2d(x, "tsne", seed=0)


def ours_no_pca(x: np.ndarray) -> np.ndarray:
    """Ours without the PCA-50 step: the same P as scikit-learn's, so the KL columns compare optimisers."""
    with _torch_threads(1):
        return _tsne(torch.as_tensor(x), seed=0, pca_dims=None).numpy()


def pca(x: np.ndarray) -> np.ndarray:
    return embed_2d(x, "pca")


def knn_accuracy_loo(x: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Leave-one-out k-NN (Euclidean, majority vote) accuracy: how well the labels' neighbourhoods survive."""
    from sklearn.neighbors import NearestNeighbors

    idx = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x, return_distance=False)[:, 1:]
    votes = np.apply_along_axis(np.bincount, 1, labels[idx], minlength=labels.max() + 1)
    return float((votes.argmax(1) == labels).mean())


def kl_divergence(p: torch.Tensor, y: np.ndarray) -> float:
    y = torch.as_tensor(y, dtype=torch.float64)
    num = 1 / (1 + torch.cdist(y, y).square())
    num.fill_diagonal_(0)
    q = num / num.sum()
    mask = p > 0
    p = p.double()
    return float((p[mask] * (p[mask] / q[mask]).log()).sum())


def quality(x, labels, y, p) -> dict:
    from sklearn.manifold import trustworthiness

    return {
        "knn": knn_accuracy_loo(y, labels),
        "trust": trustworthiness(x, y, n_neighbors=10),
        "kl": kl_divergence(p, y),
    }


def timed(fn, x) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    y = fn(x)
    return time.perf_counter() - start, y


def compare(name: str, x: np.ndarray, labels: np.ndarray, repeats: int) -> list[str]:
    xt = torch.as_tensor(x)
    p = _joint_probabilities(xt - xt.mean(0), 30.0, min(len(x) - 1, 91))
    methods = {
        "ours (embed_2d tsne)": ours,
        "ours without its PCA-50 step": ours_no_pca,
        "scikit-learn TSNE()": sklearn_tsne,
        "scikit-learn, PCA-50 + max_iter=500": sklearn_tsne_tuned,
        "PCA (embed_2d pca)": pca,
    }
    times = {m: [] for m in methods}
    maps = {}
    for _ in range(repeats):
        for label, fn in methods.items():  # interleaved: a burst of load hits both alike
            seconds, maps[label] = timed(fn, x)
            times[label].append(seconds)
    ceiling = knn_accuracy_loo(x, labels)
    scores = {label: quality(x, labels, y, p) for label, y in maps.items()}
    sk, sk_time = scores["scikit-learn TSNE()"], statistics.median(times["scikit-learn TSNE()"])
    rows = []
    for label in methods:
        t, s = statistics.median(times[label]), scores[label]
        rows.append(
            f"| {name} | {label} | {t:.2f} ({', '.join(f'{v:.2f}' for v in times[label])}) | {sk_time / t:.1f}x "
            f"| {s['knn']:.3f} ({s['knn'] - sk['knn']:+.3f}) | {s['trust']:.4f} ({s['trust'] - sk['trust']:+.4f}) "
            f"| {s['kl']:.3f} ({s['kl'] / sk['kl']:.3f}) | {ceiling:.3f} |"
        )
        print(rows[-1], flush=True)
    return rows


def probes(name: str, x: np.ndarray, labels: np.ndarray, repeats: int) -> None:
    """Our torch L-BFGS probe against scikit-learn's LogisticRegression, same standardised features."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    train, test = (i.numpy() for i in split_indices(labels, seed=0))
    mean, std = x[train].mean(0), x[train].std(0) + 1e-12
    xs = (x - mean) / std
    c_same = 1 / (PROBE_WEIGHT_DECAY * len(train))  # sklearn: C * sum(CE) + |W|²/2  <=>  mean(CE) + wd |W|²/2

    def sk(c):
        def fit():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf = LogisticRegression(C=c, max_iter=100).fit(xs[train], labels[train])
            return float((clf.predict(xs[test]) == labels[test]).mean())

        return fit

    methods = {
        "ours: linear_probe (torch L-BFGS, <= 100 it.)": lambda: linear_probe(
            x[train], labels[train], x[test], labels[test]
        ),
        f"scikit-learn LogisticRegression(C={c_same:.2f}), same penalty": sk(c_same),
        "scikit-learn LogisticRegression() (C=1)": sk(1.0),
    }
    for label, fn in methods.items():
        accuracy, seconds = fn(), []  # the first call is a warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - start)
        t = statistics.median(seconds)
        print(f"| {name} ({len(train)} / {len(test)}) | {label} | {t:.2f} | {accuracy:.3f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scaling", type=int, nargs="*", default=[], help="extra sizes, one run each (synthetic)")
    args = parser.parse_args()

    print(f"Machine: {machine()}; our t-SNE runs its loop on 1 thread, scikit-learn's TSNE with its own.\n")
    print(
        "| features | method | seconds, median (runs) | speed-up vs sklearn | 10-NN acc. in 2-D (vs sklearn) "
        "| trustworthiness@10 (vs sklearn) | KL (ratio to sklearn) | 10-NN acc. in 256-D |"
    )
    print("|---|---|---|---|---|---|---|---|")
    shapes, clusters = shapes_features(args.n), clustered_features(args.n)
    compare(f"shapes, random-init CNN, {args.n}x256", *shapes, args.repeats)
    compare(f"synthetic clusters, {args.n}x256", *clusters, args.repeats)

    print("\n| features (train / test) | linear probe | seconds, median | test accuracy |")
    print("|---|---|---|---|")
    probes(f"shapes, random-init CNN, {args.n}x256", *shapes, args.repeats)
    probes(f"synthetic clusters, {args.n}x256", *clusters, args.repeats)

    if args.scaling:
        print("\n| N | ours, s | sklearn, s | speed-up | trustworthiness ours / sklearn |")
        print("|---|---|---|---|---|")
        for n in args.scaling:
            x, _ = clustered_features(n)
            (t_ours, y_ours), (t_sk, y_sk) = timed(ours, x), timed(sklearn_tsne, x)
            from sklearn.manifold import trustworthiness

            trust = f"{trustworthiness(x, y_ours, n_neighbors=10):.4f} / {trustworthiness(x, y_sk, n_neighbors=10):.4f}"
            print(f"| {n} | {t_ours:.2f} | {t_sk:.2f} | {t_sk / t_ours:.1f}x | {trust} |", flush=True)


if __name__ == "__main__":
    main()
