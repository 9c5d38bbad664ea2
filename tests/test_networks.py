"""Encoder/decoder shapes for any data shape, and serialization of every public layer."""

import numpy as np
import pytest

from keras_vae import (
    Bernoulli,
    ConvDecoder,
    ConvEncoder,
    Gaussian,
    MLPDecoder,
    MLPEncoder,
    Sampling,
    StandardNormal,
)
from tests.helpers import assert_config_round_trip, assert_layer_round_trip, random_images


@pytest.mark.parametrize("shape", [(28, 28, 1), (30, 20, 3), (7, 9, 1), (32, 32, 4)])
@pytest.mark.parametrize("pair", [(MLPEncoder, MLPDecoder), (ConvEncoder, ConvDecoder)], ids=["mlp", "conv"])
def test_pairs_work_for_any_image_shape(pair, shape):
    encoder_class, decoder_class = pair
    x = random_images(3, shape)
    z_mean, z_log_var = encoder_class(latent_dim=5)(x)
    assert tuple(z_mean.shape) == (3, 5) and tuple(z_log_var.shape) == (3, 5)
    assert tuple(decoder_class(output_shape=shape)(z_mean).shape) == (3,) + shape


def test_mlp_pair_works_on_flat_vectors():
    x = np.random.default_rng(0).normal(size=(4, 11)).astype("float32")
    z_mean, _ = MLPEncoder(latent_dim=3)(x)
    assert tuple(MLPDecoder(output_shape=(11,))(z_mean).shape) == (4, 11)


def test_conv_decoder_rejects_flat_shapes():
    with pytest.raises(ValueError, match="MLPDecoder"):
        ConvDecoder(output_shape=(11,))


@pytest.mark.parametrize(
    "layer, inputs",
    [
        (MLPEncoder(latent_dim=3, hidden_units=(16, 8), name="mlp_encoder"), random_images(2, (6, 5, 1))),
        (MLPDecoder(output_shape=(6, 5, 2), hidden_units=(8,), name="mlp_decoder"), np.ones((2, 3))),
        (ConvEncoder(latent_dim=3, filters=(4, 8), hidden_units=16, name="conv_encoder"), random_images(2, (9, 7, 3))),
        (ConvDecoder(output_shape=(9, 7, 3), filters=(8, 4), hidden_units=16, name="conv_decoder"), np.ones((2, 3))),
        (Bernoulli(name="bernoulli"), np.linspace(-3, 3, 12).reshape(2, 6)),
        (Gaussian(scale=0.3, name="gaussian_fixed"), np.linspace(-3, 3, 12).reshape(2, 6)),
    ],
    ids=lambda v: getattr(v, "name", ""),
)
def test_layers_round_trip_through_config_and_keras_file(layer, inputs, tmp_path):
    assert_layer_round_trip(layer, inputs, tmp_path)


def test_small_layers_round_trip_through_config():
    assert assert_config_round_trip(Sampling(seed=3)).seed == 3
    assert assert_config_round_trip(Gaussian(initial_scale=0.2)).scale is None
    assert isinstance(assert_config_round_trip(StandardNormal()), StandardNormal)
