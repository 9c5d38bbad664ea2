"""Gated units (Tomczak and Welling 2018): the gate against NumPy, serialization, the networks' option."""

import numpy as np
import pytest
from scipy.signal import correlate

from keras_vae.layers import GatedConv2D, GatedDense
from keras_vae.networks import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder

from tests.helpers import assert_config_round_trip, assert_layer_round_trip, assert_vae_round_trip


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def test_gated_dense_matches_numpy_reference(tmp_path):
    x = np.random.default_rng(0).normal(size=(5, 7)).astype("float32")
    layer = GatedDense(3, name="gated")
    h = np.asarray(layer(x))
    w1, b1 = (np.asarray(v) for v in layer.linear.weights)
    w2, b2 = (np.asarray(v) for v in layer.gate.weights)
    expected = (x @ w1 + b1) * sigmoid(x @ w2 + b2)
    np.testing.assert_allclose(h, expected, atol=1e-5, rtol=0)
    assert_layer_round_trip(layer, x, tmp_path)


def _numpy_conv_same(x, kernel, bias):
    # Cross-correlation with "same" padding and stride 1 (odd kernel), kernel (kh, kw, cin, cout).
    out = np.zeros(x.shape[:3] + (kernel.shape[-1],))
    for b in range(x.shape[0]):
        for o in range(kernel.shape[-1]):
            out[b, :, :, o] = sum(correlate(x[b, :, :, c], kernel[:, :, c, o], mode="same") for c in range(x.shape[-1]))
    return out + bias


def test_gated_conv2d_matches_numpy_reference(tmp_path):
    x = np.random.default_rng(1).normal(size=(2, 6, 5, 2)).astype("float32")
    layer = GatedConv2D(3, kernel_size=3, strides=1, name="gated_conv")
    h = np.asarray(layer(x))
    k1, b1 = (np.asarray(v, np.float64) for v in layer.linear.weights)
    k2, b2 = (np.asarray(v, np.float64) for v in layer.gate.weights)
    expected = _numpy_conv_same(x, k1, b1) * sigmoid(_numpy_conv_same(x, k2, b2))
    np.testing.assert_allclose(h, expected, atol=1e-5, rtol=0)
    assert_layer_round_trip(layer, x, tmp_path)


def test_transposed_gated_conv2d_round_trips(tmp_path):
    x = np.random.default_rng(2).normal(size=(2, 4, 4, 3)).astype("float32")
    layer = GatedConv2D(2, strides=2, transposed=True, name="gated_deconv")
    assert tuple(layer(x).shape) == (2, 8, 8, 2)
    assert layer.get_config()["transposed"] is True
    assert_layer_round_trip(layer, x, tmp_path)


@pytest.mark.parametrize("bad", [0, -3])
def test_gated_layers_refuse_no_units(bad):
    with pytest.raises(ValueError, match="positive"):
        GatedDense(bad)
    with pytest.raises(ValueError, match="positive"):
        GatedConv2D(bad)


def test_networks_take_gated_units_and_round_trip(tmp_path):
    images = np.random.default_rng(3).uniform(size=(4, 8, 8, 1)).astype("float32")
    for network, inputs in (
        (MLPEncoder(latent_dim=2, hidden_units=(6,), activation="gated", name="mlp_enc"), images),
        (MLPDecoder(output_shape=(8, 8, 1), hidden_units=(6,), activation="gated", name="mlp_dec"), images[:, 0, :2, 0]),
        (ConvEncoder(latent_dim=2, filters=(3,), hidden_units=5, activation="gated", name="conv_enc"), images),
        (ConvDecoder(output_shape=(8, 8, 1), filters=(3,), hidden_units=5, activation="gated", name="conv_dec"), images[:, 0, :2, 0]),
    ):
        network(inputs)
        assert network.get_config()["activation"] == "gated"
        gated = [layer for layer in network._flatten_layers() if isinstance(layer, (GatedDense, GatedConv2D))]
        assert gated, f"{network.name} has no gated layer"
        assert_layer_round_trip(network, inputs, tmp_path)


def test_default_networks_keep_their_variable_paths():
    # .keras files saved before the gated option load by these paths: relu networks keep plain Dense layers.
    encoder = MLPEncoder(latent_dim=2, hidden_units=(4,))
    encoder(np.zeros((1, 3), "float32"))
    # The first path part is the layer's unique name (mlp_encoder, mlp_encoder_1, ...: process-wide).
    assert [v.path.split("/", 1)[1] for v in encoder.weights] == [
        "hidden_0/kernel",
        "hidden_0/bias",
        "posterior_parameters/kernel",
        "posterior_parameters/bias",
    ]
    assert_config_round_trip(encoder)


def test_vae_with_gated_networks_round_trips(tmp_path):
    from keras_vae import VAE

    model = VAE(
        MLPEncoder(latent_dim=2, hidden_units=(5,), activation="gated"),
        MLPDecoder(output_shape=(6, 6, 1), hidden_units=(5,), activation="gated"),
        seed=0,
    )
    model.build((None, 6, 6, 1))
    assert_vae_round_trip(model, np.random.default_rng(4).uniform(size=(3, 6, 6, 1)), tmp_path)
