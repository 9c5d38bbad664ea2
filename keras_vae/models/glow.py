"""Glow (Kingma and Dhariwal 2018) as a model kind: actnorm, invertible 1x1 conv, affine coupling."""

import keras

from keras_vae.flows.flow_model import FlowModel
from keras_vae.flows.layers import ActNorm, AffineCoupling, InvertibleConv1x1, SplitPrior, Squeeze


@keras.saving.register_keras_serializable(package="keras_vae")
class Glow(FlowModel):
    """Glow: squeeze, then K steps of (actnorm, LU 1x1 convolution, affine coupling) per scale.

    After every scale but the last, half the channels are factored out with Glow's split
    prior, a learned conditional Gaussian p(z_s | h_s) (a zero-initialised conv 3x3 on the
    kept half). L squeezes. Sampling takes a temperature T: every prior's std times T.
    Trained on the exact NLL of uniformly dequantised 8-bit images (`keras_vae.flows.flow_model`).

    Args:
        num_scales: int, default 2. L.
        steps_per_scale: int, default 2. K.
        hidden_channels: int, default 64.
        seed: int or None, default None. Also seeds the 1x1 convolutions' random rotations.

    Example:
    >>> import numpy as np
    >>> model = Glow(num_scales=2, steps_per_scale=1, hidden_channels=8, seed=0)
    >>> model.build((None, 8, 8, 1))
    >>> model.latent_dim, [tuple(s) for s in model.latent_shapes]
    (64, [(4, 4, 2), (2, 2, 8)])
    """

    #: What export writes into decoder_metadata.json: the split priors depend on the kept halves.
    prior_how_to_sample = (
        "the split priors p(z_s | h_s) depend on the decoded kept halves: use the SavedModel's sample signature, "
        "or decode codes from encode (z ~ N(0, I) is not the model's prior)"
    )

    def squeezes(self):
        return self.num_scales

    def scale_layers(self, index, shape, last):
        layers = [Squeeze(name=f"scale{index}_squeeze")]
        channels = 4 * shape[-1]
        base_seed = 0 if self.seed is None else int(self.seed)
        for step in range(self.steps_per_scale):
            layers += [
                ActNorm(name=f"scale{index}_actnorm{step}"),
                InvertibleConv1x1(seed=base_seed * 1000 + index * 100 + step, name=f"scale{index}_invconv{step}"),
                AffineCoupling("channel", parity=0, hidden_channels=self.hidden_channels, channels=channels,
                               name=f"scale{index}_coupling{step}"),
            ]
        return layers

    def split_prior_layer(self, index, kept_shape, factored_channels):
        return SplitPrior(factored_channels, name=f"scale{index}_split_prior")
