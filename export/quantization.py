"""Which TFLite variants each likelihood can be trusted with, and the error bounds the tests hold.

Full-integer int8 quantises every op of the decoder, the likelihood's mean included, with one
scale per tensor fixed at calibration. Two likelihoods compute their mean with a division by a
quantity that reaches zero, which no calibration set can give an int8 range to:

    ContinuousBernoulli   mean = l / (2l - 1) + 1 / (2 atanh(1 - 2l)): both denominators are 0 at
                          l = 0.5, the value every uncertain pixel takes
    DiscretizedLogistic   mean = average over the 256 grey levels of sigmoid((loc - edge) / s),
                          with the scale s down to e^-7

Measured here on small trained models (8x8, latent 3, 4 epochs): the int8 decoder of both stops
at run time, "tflite/kernels/div.cc: data[i] != zero_point was not true" (the divisor rounded to
int8 zero); where such a decoder runs, issue 18 reports max errors of 0.12 (continuous Bernoulli)
and 0.20 (discretized logistic) in pixel value on small models. The export therefore does not write their int8
variant and says why (`refused_variants`, recorded in decoder_metadata.json and the report);
dynamic_int8 (int8 weights, float activations) stays accurate for them.
"""

from keras_vae.flows.flow_model import FlowOutput
from keras_vae.likelihoods import ContinuousBernoulli, DiscretizedLogistic

# Bounds on the max absolute pixel difference from the Keras decoder over 1,000 prior draws
# (tests/test_int8.py). Measured on 8x8 models: int8 0.027-0.045 (Bernoulli, Gaussian,
# heteroscedastic Gaussian); dynamic_int8 0.007-0.010 for every likelihood.
INT8_MAX_ABS_ERROR = 0.06
DYNAMIC_INT8_MAX_ABS_ERROR = 0.03

_DIVISION_REASON = (
    "full-integer int8 cannot represent this likelihood's mean: it divides by {what}, which reaches 0, "
    "and an int8 tensor rounds small divisors to zero (the decoder then fails at run time, or errs by "
    "up to {error} in pixel value on small models); use dynamic_int8 (int8 weights, float activations)"
)
INT8_REFUSALS = {
    ContinuousBernoulli: _DIVISION_REASON.format(what="1 - 2 sigmoid(logit) and atanh(1 - 2 sigmoid(logit))", error=0.12),
    DiscretizedLogistic: _DIVISION_REASON.format(what="the logistic scale (down to e^-7)", error=0.20),
    # Measured here on 8x8 RealNVP and Glow (2 scales, 1 step, perturbed weights), 200 prior draws:
    # int8 max errors 4.7 and 5.8, mean 0.88 and 0.95 (pixels in [0, 1]); float16 0.002, dynamic_int8 1e-6.
    FlowOutput: (
        "full-integer int8 cannot run a flow's exact inverse: every coupling divides by exp(log_s) and "
        "subtracts a shift, and the errors of per-tensor int8 ranges compound through the layers (measured "
        "on small RealNVP and Glow decoders: max errors 4.7-5.8, mean 0.9 in pixel value); use float16 or "
        "dynamic_int8"
    ),
}


def refused_variants(model):
    """Returns `{variant: reason}` for the TFLite variants this model's decoder must not be exported as.

    Example:
    >>> from keras_vae.models.builder import build_model
    >>> sorted(refused_variants(build_model("vae", (4, 4, 1), "mlp", 2, "continuous_bernoulli")))
    ['int8']
    >>> refused_variants(build_model("vae", (4, 4, 1), "mlp", 2, "bernoulli"))
    {}
    """
    for likelihood, reason in INT8_REFUSALS.items():
        if isinstance(model.likelihood, likelihood):
            return {"int8": f"{type(model.likelihood).__name__}: {reason}."}
    return {}
