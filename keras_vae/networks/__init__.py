"""Encoder and decoder networks: layers that map tensors to tensors."""

from keras_vae.networks.conditional import ConditionalNetwork
from keras_vae.networks.conv import ConvDecoder, ConvEncoder
from keras_vae.networks.mlp import MLPDecoder, MLPEncoder

__all__ = ["ConditionalNetwork", "ConvDecoder", "ConvEncoder", "MLPDecoder", "MLPEncoder"]
