"""SimCLR (Chen, Kornblith, Norouzi & Hinton, ICML 2020)."""

from dataclasses import dataclass

import torch
from torch import Tensor

from sslcore.losses import nt_xent
from sslcore.models.heads import MLP
from sslcore.tasks.base import PretextBatch, PretextTask, Teaching, param
from sslcore.tasks.views import ViewParams, explain_views, make_views


class SimCLR(PretextTask):
    name = "simclr"
    title = "SimCLR (contrastive views)"
    kind = "contrastive"
    summary = "Make two random views of each image; pull a view towards its partner and away from all others."
    metric_label = "contrastive accuracy (partner is the nearest view)"
    teaching = Teaching(
        predicts="For each view, which of the other views in the batch came from the same image.",
        why="The views share the object but differ in crop, colour and blur, so the only way to match them "
        "is to describe what is in the image while ignoring those changes — exactly the invariances a "
        "classifier needs.",
        shortcuts="Without colour distortion, two crops of one image share a colour histogram, and the network "
        "matches histograms instead of objects. Large overlapping crops can be matched by low-level texture.",
        guard="Strong colour jitter and grayscale (the paper's most important augmentation), small random "
        "crops, and many negatives per batch; the temperature sets how hard negatives are weighted.",
        paper="Chen, Kornblith, Norouzi & Hinton. A Simple Framework for Contrastive Learning of Visual "
        "Representations. ICML 2020.",
    )

    @dataclass
    class Params(ViewParams):
        temperature: float = param(0.2, "Softmax temperature of the NT-Xent loss.", min=0.01, max=2.0)
        proj_dim: int = param(128, "Output size of the projection head.", min=8, max=1024)

    def make_batch(self, images: Tensor, gen: torch.Generator) -> PretextBatch:
        return make_views(images, gen, self.params)

    def head(self, backbone, image_size):
        return MLP(backbone.feature_dim, 512, self.params.proj_dim)

    def loss(self, out, batch):
        loss, acc = nt_xent(out, self.params.temperature)
        return loss, {"accuracy": acc}

    def explain(self, batch):
        return explain_views(batch)
