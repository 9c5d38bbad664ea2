"""RealNVP (Dinh et al. 2017) as a model kind: affine couplings with checkerboard and channel masks."""

import keras

from keras_vae.flows.flow_model import FlowModel
from keras_vae.flows.layers import ActNorm, AffineCoupling, Squeeze


@keras.saving.register_keras_serializable(package="keras_vae")
class RealNVP(FlowModel):
    """RealNVP: multi-scale affine couplings, standard normal priors on the factored-out halves.

    Scale s < L - 1: K x (actnorm, checkerboard coupling) with alternating parity, squeeze,
    K x (actnorm, channel coupling) with alternating halves, then half the channels are factored
    out with a N(0, I) prior. The last scale: K + 1 checkerboard couplings. Act normalisation
    (data-dependent initialisation) stands in for the paper's batch normalisation. L - 1 squeezes.
    Trained on the exact NLL of uniformly dequantised 8-bit images (`keras_vae.flows.flow_model`).

    Args:
        num_scales: int, default 2. L.
        steps_per_scale: int, default 2. K.
        hidden_channels: int, default 64.
        seed: int or None, default None.

    Example:
    >>> model = RealNVP(num_scales=2, steps_per_scale=1, hidden_channels=8, seed=0)
    >>> model.build((None, 8, 8, 1))
    >>> model.latent_dim, [tuple(s) for s in model.latent_shapes], model.metric_names
    (64, [(4, 4, 2), (4, 4, 2)], ('loss', 'bits_per_dim', 'log_det'))

    Train it with `model.compile(optimizer=...)` and `model.fit(x)` on images k/255.
    """

    #: What export writes into decoder_metadata.json: every scale's prior is N(0, I).
    prior_how_to_sample = "z ~ N(0, T^2 I) at temperature T (T = 1: the model's prior); decode(z) is the image"

    def squeezes(self):
        return self.num_scales - 1

    def scale_layers(self, index, shape, last):
        layers = []
        for step in range(self.steps_per_scale + (1 if last else 0)):
            layers += [
                ActNorm(name=f"scale{index}_checker_actnorm{step}"),
                AffineCoupling("checkerboard", parity=step % 2, hidden_channels=self.hidden_channels,
                               channels=shape[-1], name=f"scale{index}_checker_coupling{step}"),
            ]
        if last:
            return layers
        layers.append(Squeeze(name=f"scale{index}_squeeze"))
        for step in range(self.steps_per_scale):
            layers += [
                ActNorm(name=f"scale{index}_channel_actnorm{step}"),
                AffineCoupling("channel", parity=step % 2, hidden_channels=self.hidden_channels,
                               channels=4 * shape[-1], name=f"scale{index}_channel_coupling{step}"),
            ]
        return layers
