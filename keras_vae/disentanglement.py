"""Disentanglement metrics: MIG, the FactorVAE score, DCI and the beta-VAE score.

Each metric takes a *representation function* (a batch of observations -> codes (n, D), e.g.
`model.embed` as NumPy) and a `FactorDataset` (observations indexed by discrete factors of
variation, e.g. the sprites set), and draws its samples with a NumPy generator seeded by its
`seed` argument, so a score is a function of (representation, dataset, sample sizes, seed).
The definitions follow the papers and the reference implementations in disentanglement_lib
(Locatello et al. 2019), whose default sample sizes are given with each function; the defaults
here are smaller, for CPU budgets, and every size is an argument.

    MIG          Chen et al. 2018         (1/K) sum_k [I(z_j1; v_k) - I(z_j2; v_k)] / H(v_k), j1, j2 the
                                          two units with most information about factor k (codes
                                          discretised into `num_bins` equal-width bins). In [0, 1].
    FactorVAE    Kim and Mnih 2018        accuracy of a majority-vote classifier that predicts the
                                          factor held fixed in a batch from the unit of least
                                          normalised variance. Chance is about 1/K; best 1.
    DCI          Eastwood and Williams    importances R[j, k] of unit j for predicting factor k
                 2018                     (gradient-boosted trees, or lasso); disentanglement:
                                          sum_j rho_j (1 - H_K(R[j, :])), completeness: sum_k rho_k
                                          (1 - H_D(R[:, k])), informativeness: the predictors' test
                                          accuracy (trees) or R^2 (lasso). Each in [0, 1].
    beta-VAE     Higgins et al. 2017      accuracy of a logistic regression that predicts which factor
                                          two batches share from the mean |z1 - z2|. Chance 1/K.

Example:
>>> import numpy as np
>>> data = FactorDataset.from_factor_grid((3, 4, 5))  # observations are the factor indices
>>> codes = lambda x: np.asarray(x)[:, ::-1] * 2.0     # the factors, permuted and rescaled
>>> round(mig(codes, data, num_samples=2000, seed=0), 2)
1.0
"""

import numpy as np
from scipy import stats


class FactorDataset:
    """Observations at every combination of discrete factors of variation, in C order of the grid.

    Args:
        observations: array (prod(factor_sizes), ...): the observation of each combination, row
            `np.ravel_multi_index(factors, factor_sizes)`.
        factor_sizes: sequence of int, the number of values of each factor.
        factor_names: sequence of str or None, default None ("factor_0", ...).

    Example:
    >>> data = FactorDataset.from_factor_grid((2, 3))
    >>> factors = data.sample_factors(4, np.random.default_rng(0))
    >>> bool(np.all(data.observations_for(factors) == factors))
    True
    """

    def __init__(self, observations, factor_sizes, factor_names=None):
        self.factor_sizes = tuple(int(n) for n in factor_sizes)
        self.observations = observations
        if len(observations) != int(np.prod(self.factor_sizes)):
            raise ValueError(
                f"{len(observations)} observations for a grid of {self.factor_sizes} = "
                f"{int(np.prod(self.factor_sizes))} factor combinations; pass one per combination, in C order."
            )
        self.factor_names = list(factor_names or [f"factor_{k}" for k in range(len(self.factor_sizes))])

    @classmethod
    def from_factor_grid(cls, factor_sizes, factor_names=None):
        """A dataset whose observations are the factor indices themselves (float32 (N, K)): for tests."""
        grid = np.stack(np.unravel_index(np.arange(int(np.prod(factor_sizes))), factor_sizes), axis=1)
        return cls(grid.astype(np.float32), factor_sizes, factor_names)

    @classmethod
    def from_sprites(cls, variant="sprites_small", cache_dir=None):
        """The sprites set of `keras_vae.data.sprites` (float32 images of 0 and 1)."""
        from keras_vae.data.sprites import FACTOR_NAMES, SPRITE_VARIANTS, load_sprites

        images, _ = load_sprites(variant, cache_dir)
        return cls(images.astype(np.float32), SPRITE_VARIANTS[variant].factor_sizes, FACTOR_NAMES)

    @property
    def num_factors(self):
        return len(self.factor_sizes)

    def sample_factors(self, n, rng):
        """Returns n factor combinations (n, K) drawn uniformly and independently per factor."""
        return np.stack([rng.integers(0, size, n) for size in self.factor_sizes], axis=1)

    def observations_for(self, factors):
        """Returns the observations at the factor combinations `factors` (n, K)."""
        return self.observations[np.ravel_multi_index(tuple(np.asarray(factors).T), self.factor_sizes)]


def _codes(representation, observations, batch_size):
    out = [np.asarray(representation(observations[i : i + batch_size])) for i in range(0, len(observations), batch_size)]
    codes = np.concatenate(out).astype(np.float64)
    if codes.ndim != 2 or len(codes) != len(observations):
        raise ValueError(
            f"The representation function must return codes (n, D) for n observations; got shape {codes.shape} "
            f"for {len(observations)}."
        )
    return codes


def _sample_codes(representation, dataset, n, rng, batch_size):
    factors = dataset.sample_factors(n, rng)
    return _codes(representation, dataset.observations_for(factors), batch_size), factors


def _discretize(codes, num_bins):
    """Each column in `num_bins` equal-width bins over its range (as disentanglement_lib's MIG)."""
    return np.stack(
        [np.digitize(c, np.histogram(c, num_bins)[1][:-1]) for c in codes.T], axis=1
    )


def _mutual_information(a, b):
    """Plug-in mutual information in nats of two discrete sequences."""
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1.0)
    joint /= joint.sum()
    outer = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
    nonzero = joint > 0
    return float(np.sum(joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])))


def mutual_information_matrix(codes, factors, num_bins=20):
    """Returns I(z_j; v_k) in nats, (D, K): codes discretised into `num_bins` bins, factors as given.

    Args:
        codes: float array (n, D).
        factors: int array (n, K).
        num_bins: int, default 20 (disentanglement_lib's).

    Example:
    >>> v = np.repeat(np.arange(4), 50)[:, None]
    >>> m = mutual_information_matrix(v.astype(float), v, num_bins=4)
    >>> round(float(m[0, 0]), 4) == round(float(np.log(4)), 4)
    True
    """
    binned = _discretize(np.asarray(codes, np.float64), num_bins)
    factors = np.asarray(factors)
    return np.array([[_mutual_information(binned[:, j], factors[:, k]) for k in range(factors.shape[1])]
                     for j in range(binned.shape[1])])


def factor_entropy(factors):
    """Returns the plug-in entropy in nats of each column of discrete `factors` (n, K), (K,).

    Example:
    >>> round(float(factor_entropy(np.array([[0], [1], [0], [1]]))[0]), 4) == round(float(np.log(2)), 4)
    True
    """
    factors = np.asarray(factors)
    return np.array([_mutual_information(f, f) for f in factors.T])


def mig(representation, dataset, num_samples=4000, num_bins=20, seed=0, batch_size=256):
    """Mutual information gap (Chen et al. 2018).

    MIG = (1/K) sum_k [I(z_j1; v_k) - I(z_j2; v_k)] / H(v_k), with j1 and j2 the units of largest
    and second largest plug-in mutual information with factor v_k, over `num_samples` draws.

    Args:
        representation: callable, observations (n, ...) -> codes (n, D).
        dataset: `FactorDataset`.
        num_samples: int, default 4000 (disentanglement_lib: 10000).
        num_bins: int, default 20 (disentanglement_lib: 20). Equal-width bins per unit.
        seed: int, default 0.
        batch_size: int, default 256. Observations per call of `representation`.

    Returns:
        float in [0, 1] (up to the plug-in estimator's bias).
    """
    rng = np.random.default_rng(seed)
    codes, factors = _sample_codes(representation, dataset, num_samples, rng, batch_size)
    matrix = mutual_information_matrix(codes, factors, num_bins)
    if matrix.shape[0] < 2:
        raise ValueError("MIG needs at least two latent units (it compares the two most informative).")
    entropy = factor_entropy(factors)
    top = np.sort(matrix, axis=0)[::-1]
    return float(np.mean((top[0] - top[1]) / entropy))


def factor_vae_score(
    representation, dataset, num_train=500, num_eval=300, batch_size=64, num_variance_estimate=4000, seed=0,
    chunk=1024,
):
    """FactorVAE score (Kim and Mnih 2018): majority-vote accuracy of the fixed factor from the
    unit of least normalised variance.

    Each vote: choose a factor k uniformly, draw `batch_size` combinations that share k's value,
    divide each unit's variance in the batch by its variance over `num_variance_estimate` draws,
    and vote (argmin unit, k). Units of zero global variance are left out. The classifier maps
    each unit to its most voted factor (from `num_train` votes); the score is its accuracy on
    `num_eval` fresh votes.

    Args:
        representation: callable, observations (n, ...) -> codes (n, D).
        dataset: `FactorDataset`.
        num_train: int, default 500 (disentanglement_lib: 10000).
        num_eval: int, default 300 (disentanglement_lib: 5000).
        batch_size: int, default 64 (disentanglement_lib: 64).
        num_variance_estimate: int, default 4000 (disentanglement_lib: 10000).
        seed: int, default 0.
        chunk: int, default 1024. Observations per call of `representation`.

    Returns:
        float in [0, 1]; about 1/K for codes independent of the factors.
    """
    rng = np.random.default_rng(seed)
    codes, _ = _sample_codes(representation, dataset, num_variance_estimate, rng, 256)
    global_var = codes.var(axis=0, ddof=1)
    active = np.flatnonzero(global_var > 0)
    if active.size == 0:
        return 0.0

    def votes(n):
        # All n batches drawn first and encoded in one pass: one call per `chunk` observations.
        fixed = rng.integers(dataset.num_factors, size=n)
        factors = dataset.sample_factors(n * batch_size, rng).reshape(n, batch_size, -1)
        factors[np.arange(n), :, fixed] = factors[np.arange(n), :1, fixed]
        local = _codes(representation, dataset.observations_for(factors.reshape(n * batch_size, -1)), chunk)
        local = local.reshape(n, batch_size, -1).var(axis=1, ddof=1)
        table = np.zeros((codes.shape[1], dataset.num_factors), dtype=np.int64)
        np.add.at(table, (active[np.argmin(local[:, active] / global_var[active], axis=1)], fixed), 1)
        return table

    classifier = np.argmax(votes(num_train), axis=1)
    table = votes(num_eval)
    return float(table[np.arange(len(classifier)), classifier].sum() / table.sum())


def _importance_entropy(probabilities, base):
    return stats.entropy(probabilities + 1e-11, base=base)


def dci(representation, dataset, num_train=1000, num_test=500, regressor="gbt", seed=0, batch_size=256,
        n_estimators=30, alpha=0.02):
    """DCI disentanglement, completeness and informativeness (Eastwood and Williams 2018).

    One predictor per factor from all units gives importances R (D, K): `regressor="gbt"`
    (scikit-learn's GradientBoostingClassifier, `n_estimators` trees, the feature importances,
    as disentanglement_lib) or `"lasso"` (Lasso with `alpha` on standardised codes and factors,
    |coefficients|, as Eastwood and Williams). With P_jk = R_jk / sum_k R_jk and
    rho_j = sum_k R_jk / sum R:

        disentanglement  = sum_j rho_j (1 - H_K(P_j.))        (entropy in base K)
        completeness     = sum_k rho_k (1 - H_D(R_.k / sum_j R_jk))
        informativeness  = mean_k test accuracy (gbt) or test R^2 (lasso)

    Args:
        representation: callable, observations (n, ...) -> codes (n, D).
        dataset: `FactorDataset`.
        num_train: int, default 1000 (disentanglement_lib: 10000).
        num_test: int, default 500 (disentanglement_lib: 5000).
        regressor: str, default "gbt". "gbt" or "lasso".
        seed: int, default 0 (samples and the trees' randomness).
        batch_size: int, default 256.
        n_estimators: int, default 30 (scikit-learn's default: 100). Trees per factor ("gbt").
        alpha: float, default 0.02. The lasso's penalty ("lasso").

    Returns:
        dict with "disentanglement", "completeness", "informativeness" (floats) and
        "importance" (D x K list of lists).
    """
    if regressor not in ("gbt", "lasso"):
        raise ValueError(f"Unknown DCI regressor {regressor!r}; choose 'gbt' or 'lasso'.")
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import Lasso

    rng = np.random.default_rng(seed)
    x_train, y_train = _sample_codes(representation, dataset, num_train, rng, batch_size)
    x_test, y_test = _sample_codes(representation, dataset, num_test, rng, batch_size)
    importance = np.zeros((x_train.shape[1], dataset.num_factors))
    scores = []
    if regressor == "lasso":
        mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-12
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    for k in range(dataset.num_factors):
        if regressor == "gbt":
            model = GradientBoostingClassifier(n_estimators=n_estimators, random_state=seed)
            model.fit(x_train, y_train[:, k])
            importance[:, k] = np.abs(model.feature_importances_)
            scores.append(model.score(x_test, y_test[:, k]))
        else:
            target_mean, target_std = y_train[:, k].mean(), y_train[:, k].std() + 1e-12
            model = Lasso(alpha=alpha)
            model.fit(x_train, (y_train[:, k] - target_mean) / target_std)
            importance[:, k] = np.abs(model.coef_)
            scores.append(model.score(x_test, (y_test[:, k] - target_mean) / target_std))
    total = importance.sum()
    weights = importance if total > 0 else np.ones_like(importance)
    num_codes, num_factors = weights.shape
    # With one factor (one code) every code (factor) is trivially specific: score 1.
    per_code = 1 - _importance_entropy(weights.T, base=num_factors) if num_factors > 1 else np.ones(num_codes)
    per_factor = 1 - _importance_entropy(weights, base=num_codes) if num_codes > 1 else np.ones(num_factors)
    code_weight = weights.sum(axis=1) / weights.sum()
    factor_weight = weights.sum(axis=0) / weights.sum()
    return {
        "disentanglement": float(np.sum(per_code * code_weight)),
        "completeness": float(np.sum(per_factor * factor_weight)),
        "informativeness": float(np.mean(scores)),
        "importance": importance.tolist(),
    }


def beta_vae_score(representation, dataset, num_train=500, num_eval=300, batch_size=64, seed=0, chunk=1024):
    """beta-VAE score (Higgins et al. 2017): accuracy of a linear classifier of the shared factor.

    Each example: choose a factor k uniformly, draw two batches of `batch_size` combinations
    that agree on k (the rest independent), and take the mean over the batch of |z1 - z2|
    per unit; its label is k. A logistic regression (scikit-learn) is fit on `num_train`
    examples (features standardised with the training examples' mean and deviation); the score
    is its accuracy on `num_eval` fresh ones.

    Args:
        representation: callable, observations (n, ...) -> codes (n, D).
        dataset: `FactorDataset`.
        num_train: int, default 500 (disentanglement_lib: 10000).
        num_eval: int, default 300 (disentanglement_lib: 5000).
        batch_size: int, default 64 (disentanglement_lib: 64).
        seed: int, default 0.
        chunk: int, default 1024. Observations per call of `representation`.

    Returns:
        float in [0, 1]; about 1/K for codes independent of the factors.
    """
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)

    def examples(n):
        labels = rng.integers(dataset.num_factors, size=n)
        first = dataset.sample_factors(n * batch_size, rng).reshape(n, batch_size, -1)
        second = dataset.sample_factors(n * batch_size, rng).reshape(n, batch_size, -1)
        second[np.arange(n), :, labels] = first[np.arange(n), :, labels]
        z1 = _codes(representation, dataset.observations_for(first.reshape(n * batch_size, -1)), chunk)
        z2 = _codes(representation, dataset.observations_for(second.reshape(n * batch_size, -1)), chunk)
        return np.abs(z1 - z2).reshape(n, batch_size, -1).mean(axis=1), labels

    x_train, y_train = examples(num_train)
    x_eval, y_eval = examples(num_eval)
    if len(np.unique(y_train)) < 2:
        raise ValueError("beta_vae_score needs num_train large enough to see at least two factors.")
    # Standardised features: the same linear classifiers, a better conditioned fit (seconds, not minutes).
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-12
    model = LogisticRegression(max_iter=2000)
    model.fit((x_train - mean) / std, y_train)
    return float(model.score((x_eval - mean) / std, y_eval))


#: `evaluate_disentanglement`'s sample sizes at scale 1.0 (disentanglement_lib's are in each metric's docstring).
DEFAULT_SAMPLE_SIZES = {
    "mig_samples": 4000,
    "factor_vae_train": 500, "factor_vae_eval": 300, "factor_vae_variance_estimate": 4000,
    "dci_train": 1000, "dci_test": 500,
    "beta_vae_train": 500, "beta_vae_eval": 300,
}
#: The fewest draws a scaled sample size may have: with 2 (what 0.0001 gave), DCI's classifiers saw one
#: class of a factor and scikit-learn stopped with "y contains 1 class".
MIN_SAMPLE_SIZE = 20
#: The largest scale: 20 reaches disentanglement_lib's sample sizes (10,000 training votes); beyond it the
#: beta-VAE score alone gathers millions of images at once.
MAX_SCALE = 20.0


def check_scale(scale):
    """Returns `scale` as a float, or raises ValueError naming the valid range of scales.

    Args:
        scale: number. Multiplies `DEFAULT_SAMPLE_SIZES`; every size must stay >= `MIN_SAMPLE_SIZE`.

    Example:
    >>> check_scale(0.5)
    0.5
    >>> check_scale(0)
    Traceback (most recent call last):
    ...
    ValueError: the disentanglement scale must be a number from 0.0667 to 20 (it multiplies the metrics' sample sizes, the smallest of which is 300 at scale 1; below 0.0667 a metric would draw fewer than 20 samples), got 0.
    """
    smallest = min(DEFAULT_SAMPLE_SIZES.values())
    lowest = MIN_SAMPLE_SIZE / smallest
    try:
        value = float(scale)
    except (TypeError, ValueError):
        value = float("nan")
    if not lowest <= value <= MAX_SCALE:  # also refuses NaN
        raise ValueError(
            f"the disentanglement scale must be a number from {lowest:.3g} to {MAX_SCALE:g} (it multiplies the "
            f"metrics' sample sizes, the smallest of which is {smallest} at scale 1; below {lowest:.3g} a metric "
            f"would draw fewer than {MIN_SAMPLE_SIZE} samples), got {scale!r}."
        )
    return value


def evaluate_disentanglement(representation, dataset, seed=0, scale=1.0):
    """Returns the four metrics as a dict: mig, factor_vae, dci_{disentanglement, completeness,
    informativeness}, beta_vae, and the sample sizes used.

    Args:
        representation: callable, observations -> codes (n, D).
        dataset: `FactorDataset`.
        seed: int, default 0. Each metric gets its own seed (seed, seed + 1, ...).
        scale: float, default 1.0. Multiplies every size in `DEFAULT_SAMPLE_SIZES` (0.5 halves the
            work); `check_scale` gives its valid range.
    """
    scale = check_scale(scale)

    def size(n):
        return int(round(n * scale))

    sizes = {name: size(n) for name, n in DEFAULT_SAMPLE_SIZES.items() if name != "factor_vae_variance_estimate"}
    results = {"mig": mig(representation, dataset, num_samples=sizes["mig_samples"], seed=seed)}
    results["factor_vae"] = factor_vae_score(
        representation, dataset, num_train=sizes["factor_vae_train"], num_eval=sizes["factor_vae_eval"],
        num_variance_estimate=size(DEFAULT_SAMPLE_SIZES["factor_vae_variance_estimate"]), seed=seed + 1,
    )
    scores = dci(representation, dataset, num_train=sizes["dci_train"], num_test=sizes["dci_test"], seed=seed + 2)
    results.update({f"dci_{key}": scores[key] for key in ("disentanglement", "completeness", "informativeness")})
    results["beta_vae"] = beta_vae_score(
        representation, dataset, num_train=sizes["beta_vae_train"], num_eval=sizes["beta_vae_eval"], seed=seed + 3
    )
    results["sample_sizes"] = sizes
    results["seed"] = int(seed)
    return results


__all__ = [
    "DEFAULT_SAMPLE_SIZES",
    "FactorDataset",
    "beta_vae_score",
    "check_scale",
    "dci",
    "evaluate_disentanglement",
    "factor_entropy",
    "factor_vae_score",
    "mig",
    "mutual_information_matrix",
]
