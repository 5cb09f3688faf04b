"""SimSiam (Chen & He, CVPR 2021): views without negatives, kept from collapsing by a stop-gradient."""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sslcore.losses import simsiam_loss
from sslcore.models.heads import MLP
from sslcore.tasks.base import PretextBatch, PretextTask, Teaching, param
from sslcore.tasks.views import ViewParams, explain_views, make_views


class SimSiamHead(nn.Module):
    """Projector then predictor; returns (prediction p, projection z) for the loss."""

    def __init__(self, in_dim: int, dim: int, pred_dim: int):
        super().__init__()
        self.projector = MLP(in_dim, dim, dim, last_bn=True)
        self.predictor = MLP(dim, pred_dim, dim)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        z = self.projector(features)
        return self.predictor(z), z


class SimSiam(PretextTask):
    name = "simsiam"
    title = "SimSiam (non-contrastive views)"
    kind = "non-contrastive"
    summary = "Two random views per image; predict one view's embedding from the other's, with no negatives."
    metric = "collapse"
    metric_label = "spread of embeddings (1 = healthy, 0 = collapsed)"
    teaching = Teaching(
        predicts="The projected embedding of one view, from the other view of the same image.",
        why="As with SimCLR, matching views across crops and colour changes forces features that describe "
        "content — but without negatives there is no need for large batches.",
        shortcuts="Collapse: if every image maps to the same vector, the prediction is trivially perfect. "
        "The loss then looks great while the features carry nothing. Watch the spread metric: it falls to 0.",
        guard="The stop-gradient on the target branch and the predictor MLP are what prevent collapse (remove "
        "either and it collapses); strong augmentations keep the task non-trivial.",
        paper="Chen & He. Exploring Simple Siamese Representation Learning. CVPR 2021. "
        "(BYOL, Grill et al. NeurIPS 2020, is its momentum-encoder cousin.)",
    )

    @dataclass
    class Params(ViewParams):
        dim: int = param(512, "Size of the projection.", min=16, max=2048)
        pred_dim: int = param(128, "Bottleneck of the predictor MLP.", min=8, max=1024)

    def make_batch(self, images: Tensor, gen: torch.Generator) -> PretextBatch:
        return make_views(images, gen, self.params)

    def head(self, backbone, image_size):
        return SimSiamHead(backbone.feature_dim, self.params.dim, self.params.pred_dim)

    def loss(self, out, batch):
        p, z = out
        return simsiam_loss(p, z)

    def explain(self, batch):
        return explain_views(batch, no_negatives)


def no_negatives(n: int) -> str:
    """SimSiam's side of a pair: no negatives; the predictor and the stop-gradient keep it from collapsing."""
    return (
        "the predictor MLP maps view 1's embedding onto view 2's (and back), and the target side gets no gradient "
        "(stop-gradient); no negatives: the other images in the batch play no part"
    )
