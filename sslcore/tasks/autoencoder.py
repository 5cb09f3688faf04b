"""Plain autoencoder: the 'too low-level' reference every pretext task should beat."""

from dataclasses import dataclass

import torch
from torch import Tensor

from sslcore.augment import to_device
from sslcore.losses import reconstruction_loss
from sslcore.models.heads import VectorDecoder
from sslcore.tasks.base import (
    PretextBatch,
    PretextTask,
    PreviewImage,
    PreviewItem,
    Teaching,
    as_float_images,
    param,
)


class Autoencoder(PretextTask):
    name = "autoencoder"
    title = "Autoencoder (reference)"
    kind = "reconstruction"
    summary = "Squeeze the image through the pooled feature vector and reconstruct every pixel."
    metric = "psnr"
    metric_label = "reconstruction PSNR (dB)"
    teaching = Teaching(
        predicts="The input image itself, pixel for pixel, from the backbone's pooled feature vector.",
        why="A code that can rebuild the image must keep what the image contains — but it keeps whatever "
        "costs most pixels, not what matters for recognising it.",
        shortcuts="Background colour, brightness and the position of large blobs dominate the pixel loss, "
        "so the features describe those nuisances well and object identity poorly: the classic example of "
        "a task that is too low-level.",
        guard="Nothing in the task itself: denoising (noise on the input) helps a little. This is why "
        "pretext tasks that predict something *about* the image were invented.",
        paper="Hinton & Salakhutdinov. Reducing the Dimensionality of Data with Neural Networks. Science 2006; "
        "Vincent et al. Extracting and Composing Robust Features with Denoising Autoencoders. ICML 2008.",
    )

    @dataclass
    class Params:
        noise: float = param(0.0, "Std of Gaussian noise added to the input (a denoising autoencoder when > 0).", min=0.0, max=1.0)

    def make_batch(self, images: Tensor, gen: torch.Generator) -> PretextBatch:
        x = as_float_images(images)
        inputs = x
        if self.params.noise > 0:
            noise = to_device(torch.randn(x.shape, generator=gen), x.device)
            inputs = (x + self.params.noise * noise).clamp(0, 1)
        return PretextBatch(inputs, x, x)

    def head(self, backbone, image_size):
        return VectorDecoder(backbone.feature_dim, 3, image_size)

    def loss(self, out, batch):
        return reconstruction_loss(out, batch.targets)

    def explain(self, batch):
        noisy = f" with noise σ={self.params.noise:g}" if self.params.noise > 0 else ""
        return [
            PreviewItem(
                PreviewImage(batch.originals[i], "original = target"),
                [PreviewImage(batch.inputs[i], f"network input{noisy}")],
                "reconstruct the whole image from the pooled feature vector",
            )
            for i in range(len(batch))
        ]
