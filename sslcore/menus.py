"""What people choose from, defined once: the built-in datasets and the data sources each page offers.

Stdlib only, so a page can draw its menus before torch is imported. ``sslcore.data`` takes its list of
built-in datasets (and the CLI its descriptions) from here; Explore's and Train's menus are views of the
same table, so a dataset has one title wherever it appears.
"""

from __future__ import annotations

from dataclasses import dataclass

UPLOAD = "upload"  # the person's own images (Explore) or training zip / CSV (Train)
PASTE = "paste"  # text typed or pasted into Explore
UPLOAD_TEXT = "upload_text"  # .txt / .csv files dropped on Explore


@dataclass(frozen=True)
class BuiltinDataset:
    modality: str  # "image" or "text"
    title: str  # as menus show it
    description: str  # one line, for `python -m sslcore datasets`
    # what fine-tuning's augmentation may do and keep every label (images): a mirrored digit is no digit,
    # and a crop of half a digit can lose what tells a 7 from a 1 (benchmarks/few_labels.py, docs/benchmarks.md)
    mirror_keeps_label: bool = True
    smallest_crop: float = 0.5  # the smallest random crop, as a fraction of the image area


BUILTIN_DATASETS = {
    "shapes": BuiltinDataset(
        "image",
        "Shapes (procedural, 12 classes)",
        "procedural shapes, 12 classes with an upright pose; colour, texture, position and scale vary",
    ),
    "digits": BuiltinDataset(
        "image",
        "Handwritten digits (scikit-learn)",
        "scikit-learn's 1,797 handwritten digits (8×8, upscaled), 10 classes",
        mirror_keeps_label=False,
        smallest_crop=0.8,
    ),
    "photos": BuiltinDataset(
        "image",
        "Sample photos (scikit-learn)",
        "crops of scikit-learn's two sample photos (china, flower), for previews",
    ),
    "cifar10": BuiltinDataset(
        "image",
        "CIFAR-10 (download)",
        "CIFAR-10 (32×32 photos, 10 classes); needs a download or the files in the data folder",
    ),
    "corpus": BuiltinDataset(
        "text",
        "Bundled corpus (6 topics)",
        "text: ~2,300 sentences in paragraphs on 6 topics, written for Pretext Lab (assets/text/)",
    ),
}
DEFAULT_DATASET = {"image": "shapes", "text": "corpus"}  # what a run trains on when no dataset is given

_OWN_DATA = {
    "explore": {
        "image": {UPLOAD: "Your own images"},
        "text": {PASTE: "Paste text", UPLOAD_TEXT: "Your .txt or .csv file"},
    },
    "train": {
        "image": {UPLOAD: "Your zip (one folder per class)"},
        "text": {UPLOAD: "Your CSV (text and label columns)"},
    },
}
_BUILTIN_SHOWN = {"explore": ("shapes", "digits", "photos", "corpus"), "train": ("shapes", "digits", "corpus")}


def data_menu(page: str, modality: str) -> dict[str, str]:
    """The data sources ``page`` ("explore" or "train") offers for ``modality``: option -> title, in menu order.

    Explore previews any built-in set (photos included) and the person's own images or text; Train offers the
    labelled sets and a zip of class folders or a CSV with labels.
    """
    builtin = {
        name: d.title for name, d in BUILTIN_DATASETS.items() if d.modality == modality and name in _BUILTIN_SHOWN[page]
    }
    return {**builtin, **_OWN_DATA[page][modality]}


BATCH_SIZES = (32, 64, 128, 256, 512)  # the Train form's batch-size choices
PREVIEW_SIZES = (32, 64, 96, 128)  # Explore's image sizes (pixels)
MAX_PREVIEW_COUNT = 12  # examples Explore shows at once
