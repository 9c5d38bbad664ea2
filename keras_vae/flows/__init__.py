"""Normalizing flows: invertible Keras 3 layers served as tfp bijectors, and the multi-scale flow model."""

from keras_vae.flows.flow_model import FlowModel, FlowOutput, StopOnNonFiniteLogDet, dequantize, discretisation_correction
from keras_vae.flows.layers import ActNorm, AffineCoupling, CouplingNetwork, InvertibleConv1x1, SplitPrior, Squeeze

__all__ = [
    "ActNorm",
    "AffineCoupling",
    "CouplingNetwork",
    "FlowModel",
    "FlowOutput",
    "InvertibleConv1x1",
    "SplitPrior",
    "Squeeze",
    "StopOnNonFiniteLogDet",
    "dequantize",
    "discretisation_correction",
]
