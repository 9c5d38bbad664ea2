"""Presets: the published models of the likelihood tables as `TrainSettings` values (data, not code).

`keras-vae train --preset NAME` starts from `PRESETS[NAME]["settings"]`; every flag given
explicitly on the command line overrides the preset's value. From Python:
`TrainSettings(**preset_settings("vae_vamp", out="runs/x"))`.

The rows are those of Norouzi et al. (2020, Exemplar VAE, Table: dynamically binarized
Fashion-MNIST, IS-5000 test NLL in nats), whose VAE baselines are the models of Tomczak and
Welling (2018, VampPrior):

    plain VAE (MLP, 2 x 300 gated units, z = 40, N(0, I))      228.70
    VAE + VampPrior                                           227.35
    HVAE + VampPrior (two stochastic layers, z1 = z2 = 40)     (not in that table)
    ConvHVAE + VampPrior                                      224.67  (ConvHVAE, N(0, I): 225.38)

The published recipe (Tomczak and Welling 2018, section 4): gated hidden units (300 per
layer), z of size 40 per stochastic layer, Adam with learning rate 5e-4, batch size 100,
KL warm-up over the first 100 epochs, at most 2,000 epochs with early stopping after 50
epochs without improvement on a validation set (10,000 training images), 500
pseudo-inputs for the VampPrior.

What the presets change, and why:

- warm-up over 10 epochs, not 100: the figure below was measured with 10. The published
  warm-up would also fit the 60-minute budget of `bench/bench_presets.py` (the `vae` preset
  runs an epoch of 50,000 images in about 5 s here, 706 epochs in 60 minutes, so 100 epochs
  end after about 8 minutes); `--warmup-epochs 100` gives it (not measured);
- the VampPrior has the package's 50 pseudo-inputs, not 500 (`TrainSettings` names the prior
  only; 500 pseudo-inputs also cost ten times the prior's encoder passes per step);
- the conv presets use the package's conv pair (two stride-2 3x3 gated convolutions with 32
  and 64 channels and a 300-unit gated dense layer, mirrored in the decoder) instead of the
  paper's deeper stack of gated convolutions, again for time;
- the epoch cap and early stopping are the published ones; a benchmark's wall-clock budget
  may stop the run first, and says so.

Figures reached on this machine (`bench/bench_presets.py --minutes 60`, IS-5000 on all 10,000
test images, 2 vCPU; for `convhvae_vamp`, whose IS-5000 would take 8.5 hours per checkpoint here,
estimated from a random subset of them paired with `hvae_vamp`) are each entry's `reached_here`
below, with the curves in BENCHMARKS.md.
"""

import copy

#: The settings every preset shares: the published recipe, with the changes listed above.
_RECIPE = {
    "dataset": "fashion_mnist",
    "likelihood": "bernoulli",
    "binarize": "dynamic",
    "activation": "gated",
    "hidden_units": 300,
    "latent_dim": 40,
    "learning_rate": 5e-4,
    "batch_size": 100,
    "beta_schedule": "linear",
    "warmup_epochs": 10,
    "epochs": 2000,
    "early_stopping_patience": 50,
    "validation_fraction": 1 / 6,  # 10,000 of Fashion-MNIST's 60,000 training images
}

#: name -> {"description", "published_nll" (nats, IS-5000, or None), "reached_here" (what
#: bench/bench_presets.py measured on this project's 2-vCPU machine, or None), "settings"
#: (TrainSettings fields)}.
PRESETS = {
    "vae": {
        "description": "plain VAE: MLP, 2 x 300 gated units, z = 40, N(0, I) prior",
        "published_nll": 228.70,
        "reached_here": "IS-5000 NLL 228.76 after 60 min",
        "settings": {**_RECIPE, "model": "vae", "architecture": "mlp", "prior": "standard_normal"},
    },
    "vae_vamp": {
        "description": "VAE + VampPrior: as vae, with the VampPrior",
        "published_nll": 227.35,
        "reached_here": "IS-5000 NLL 228.50 after 60 min",
        "settings": {**_RECIPE, "model": "vae", "architecture": "mlp", "prior": "vamp"},
    },
    "hvae_vamp": {
        "description": "HVAE + VampPrior: two stochastic layers (z1 = z2 = 40), MLP gated networks",
        "published_nll": None,
        "reached_here": "IS-5000 NLL 228.66 after 60 min",
        "settings": {**_RECIPE, "model": "hvae", "architecture": "mlp", "prior": "vamp"},
    },
    "convhvae_vamp": {
        "description": "ConvHVAE + VampPrior: two stochastic layers, gated convolutional networks",
        "published_nll": 224.67,
        "reached_here": "IS-5000 NLL 229.06 after 61 min (estimated from 150 random test images)",
        "settings": {**_RECIPE, "model": "hvae", "architecture": "conv", "prior": "vamp"},
    },
}


def preset_settings(name, **overrides):
    """Returns the `TrainSettings` fields of preset `name` (a new dict), with `overrides` applied.

    Args:
        name: str. A key of `PRESETS`.
        **overrides: `TrainSettings` fields that replace the preset's values.

    Example:
    >>> from keras_vae.settings import TrainSettings
    >>> settings = TrainSettings(**preset_settings("vae_vamp", epochs=3))
    >>> settings.prior, settings.activation, settings.epochs, settings.preset
    ('vamp', 'gated', 3, 'vae_vamp')
    """
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
    settings = copy.deepcopy(PRESETS[name]["settings"])
    settings.update(overrides)
    settings["preset"] = name
    return settings


def describe_presets():
    """Returns one line per preset (name, published figure, description), for `keras-vae train --help`."""
    lines = []
    for name, entry in PRESETS.items():
        published = "n/a" if entry["published_nll"] is None else f"{entry['published_nll']:.2f}"
        reached = entry["reached_here"] or "not measured yet"
        lines.append(f"{name}: {entry['description']} (published IS-5000 NLL {published}; here: {reached})")
    return lines
