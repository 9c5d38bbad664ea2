"""What a model kind can do: the capability names and the condition spec of the model contract.

`keras_vae.models.generative_model.GenerativeModel` explains the contract; consumers test
`model.can(PRIOR)` and friends instead of asking which class a model is.
"""

import dataclasses

#: A prior p(z) to sample from: `sample`, `prior_latents`, `prior_distribution`.
PRIOR = "prior"
#: A bound on log p(x): `bound_terms`, so the ELBO and importance-sampled log-likelihood.
BOUND = "bound"
#: An approximate posterior q(z|x): `posterior_distribution`.
POSTERIOR = "posterior"
#: A classifier q(y|x) over the model's classes: `classify(x)` returns class probabilities, and
#: export adds a `classify` signature (the semi-supervised VAE, Kingma et al. 2014).
CLASSIFY = "classify"
#: An exact log-likelihood of the data: `exact_log_likelihood(x, condition, seed)`, nats per example
#: (normalizing flows: of 8-bit images through uniform dequantisation, `keras_vae.flows`).
EXACT = "exact_likelihood"


@dataclasses.dataclass(frozen=True)
class ConditionSpec:
    """What a conditional model's condition c is.

    Args:
        dim: int. Size of the float condition vector the networks see.
        num_classes: int or None, default None. Set for class labels (ids 0..K-1,
            one-hot encoded inside the model, so dim == num_classes).

    Example:
    >>> ConditionSpec(dim=10, num_classes=10).num_classes
    10
    """

    dim: int
    num_classes: int | None = None
