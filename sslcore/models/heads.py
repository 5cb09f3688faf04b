"""Heads that pretext tasks put on a backbone: an MLP (classifier / projector / predictor) and decoders."""

from torch import Tensor, nn


class MLP(nn.Sequential):
    """Linear layers with BatchNorm+ReLU between them; ``dims`` lists input, hidden and output sizes.

    A hidden layer matters: it lets the head absorb task-specific detail, so the backbone's pooled
    features stay more general (the reason SimCLR evaluates *before* its projector).
    """

    def __init__(self, *dims: int, last_bn: bool = False):
        layers = []
        for i, (din, dout) in enumerate(zip(dims[:-1], dims[1:])):
            last = i == len(dims) - 2
            layers.append(nn.Linear(din, dout, bias=last and not last_bn))
            if not last:
                layers += [nn.BatchNorm1d(dout), nn.ReLU(inplace=True)]
            elif last_bn:
                layers.append(nn.BatchNorm1d(dout, affine=False))
        super().__init__(*layers)


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ConvDecoder(nn.Module):
    """Upsamples a backbone feature map by ``scale`` (a power of two) to ``out_channels`` per pixel."""

    def __init__(self, in_channels: int, out_channels: int, scale: int, width: int = 128):
        super().__init__()
        steps, layers, cin = scale.bit_length() - 1, [], in_channels
        for _ in range(steps):
            cout = max(width, 32)
            layers.append(_up(cin, cout))
            cin, width = cout, width // 2
        layers.append(nn.Conv2d(cin, out_channels, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, feature_map: Tensor) -> Tensor:
        return self.net(feature_map)


class VectorDecoder(nn.Module):
    """Decodes a pooled feature vector back to an image: a true bottleneck (autoencoder, context encoder)."""

    def __init__(self, in_dim: int, out_channels: int, out_size: int, width: int = 128, start: int = 4):
        super().__init__()
        self.width, self.start = width, start
        self.fc = nn.Sequential(nn.Linear(in_dim, width * start * start), nn.ReLU(inplace=True))
        self.decode = ConvDecoder(width, out_channels, out_size // start, width)

    def forward(self, features: Tensor) -> Tensor:
        x = self.fc(features).view(-1, self.width, self.start, self.start)
        return self.decode(x)
