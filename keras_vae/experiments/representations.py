"""Experiment 4: VAE, AE and DAE codes as representations.

The same MLP networks and training budget for the three kinds; each encodes the images
(`model.embed`: the posterior mean of a VAE, the code of an autoencoder). Then:

- a k-nearest-neighbour classifier (Euclidean, majority vote) and a linear probe
  (multinomial logistic regression on standardised codes) from train codes to the 10 classes,
  test accuracy;
- how the test codes fill N(0, I): per latent unit, the Kolmogorov-Smirnov statistic
  sup_t |F_n(t) - Phi(t)| of the unit's codes against N(0, 1) (scipy.stats.kstest), and the
  units' mean and standard deviation. Only the VAE is asked to match the prior; the
  autoencoders' codes can sit anywhere at any scale.
"""

import numpy as np
from scipy import optimize, stats

from keras_vae.experiments.common import in_batches

#: The kinds compared and their options (the DAE's input noise).
KINDS = {"vae": {}, "ae": {}, "dae": {"noise_std": 0.3}}


def knn_accuracy(train_codes, train_labels, test_codes, test_labels, k=5, batch_size=500):
    """Test accuracy of the k-nearest-neighbour vote (Euclidean; ties go to the lowest label).

    Example:
    >>> train = np.array([[0.0], [0.1], [1.0], [1.1]]); labels = np.array([0, 0, 1, 1])
    >>> knn_accuracy(train, labels, np.array([[0.05], [1.05]]), np.array([0, 1]), k=1)
    1.0
    """
    train_codes = np.asarray(train_codes, np.float64)
    train_labels = np.asarray(train_labels)
    num_classes = int(max(train_labels.max(), np.max(test_labels))) + 1
    correct = 0
    for start in range(0, len(test_codes), batch_size):
        batch = np.asarray(test_codes[start : start + batch_size], np.float64)
        distances = (batch**2).sum(1)[:, None] - 2 * batch @ train_codes.T + (train_codes**2).sum(1)[None]
        nearest = np.argpartition(distances, min(k, len(train_codes) - 1), axis=1)[:, :k]
        votes = np.zeros((len(batch), num_classes))
        np.add.at(votes, (np.arange(len(batch))[:, None], train_labels[nearest]), 1)
        correct += int(np.sum(votes.argmax(1) == test_labels[start : start + batch_size]))
    return correct / len(test_codes)


def linear_probe_accuracy(train_codes, train_labels, test_codes, test_labels, l2=1e-3, max_iterations=500):
    """Test accuracy of multinomial logistic regression on standardised codes (L-BFGS, L2 penalty `l2`).

    Example:
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 2)); y = (x[:, 0] > 0).astype(int)
    >>> linear_probe_accuracy(x[:100], y[:100], x[100:], y[100:]) > 0.9
    True
    """
    train_codes = np.asarray(train_codes, np.float64)
    mean, std = train_codes.mean(0), train_codes.std(0) + 1e-8
    x = np.hstack([(train_codes - mean) / std, np.ones((len(train_codes), 1))])
    x_test = np.hstack([(np.asarray(test_codes, np.float64) - mean) / std, np.ones((len(test_codes), 1))])
    num_classes = int(max(np.max(train_labels), np.max(test_labels))) + 1
    onehot = np.eye(num_classes)[train_labels]

    def loss_and_gradient(flat):
        w = flat.reshape(x.shape[1], num_classes)
        logits = x @ w
        logits -= logits.max(1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        loss = -np.mean(np.sum(onehot * log_p, 1)) + 0.5 * l2 * np.sum(w[:-1] ** 2)
        gradient = x.T @ (np.exp(log_p) - onehot) / len(x)
        gradient[:-1] += l2 * w[:-1]
        return loss, gradient.ravel()

    start = np.zeros(x.shape[1] * num_classes)
    solution = optimize.minimize(loss_and_gradient, start, jac=True, method="L-BFGS-B",
                                 options={"maxiter": max_iterations})
    w = solution.x.reshape(x.shape[1], num_classes)
    return float(np.mean((x_test @ w).argmax(1) == test_labels))


def normality(codes):
    """Per-unit distance of codes (N, d) from N(0, 1): dict of arrays ks, mean, std (each (d,)).

    ks[j] = sup_t |F_n(t) - Phi(t)|, the Kolmogorov-Smirnov statistic of unit j against N(0, 1).

    Example:
    >>> codes = np.random.default_rng(0).normal(size=(2000, 2))
    >>> bool(np.all(normality(codes)["ks"] < 0.05)), bool(np.all(normality(3 * codes)["ks"] > 0.2))
    (True, True)
    """
    codes = np.asarray(codes, np.float64)
    ks = np.array([stats.kstest(codes[:, j], "norm").statistic for j in range(codes.shape[1])])
    return {"ks": ks, "mean": codes.mean(0), "std": codes.std(0)}


def compare_representations(data, models, latent_dim=10, k=5, seed=0):
    """Trains a VAE, an AE and a DAE alike; returns per kind its probe accuracies and code normality.

    Returns:
        dict kind -> dict(knn_accuracy, linear_probe_accuracy, mean_ks, ks, code_mean, code_std).
    """
    results = {}
    for kind, options in KINDS.items():
        model = models.train(kind, data["train"], latent_dim, seed=seed, **options)
        train_codes = in_batches(model.embed, data["train"])
        test_codes = in_batches(model.embed, data["test"])
        fit = normality(test_codes)
        results[kind] = {
            "knn_accuracy": knn_accuracy(train_codes, data["train_labels"], test_codes, data["test_labels"], k=k),
            "linear_probe_accuracy": linear_probe_accuracy(
                train_codes, data["train_labels"], test_codes, data["test_labels"]
            ),
            "mean_ks": float(np.mean(fit["ks"])),
            "ks": fit["ks"].tolist(),
            "code_mean": fit["mean"].tolist(),
            "code_std": fit["std"].tolist(),
        }
    return results


def plot_representations(results):
    """Returns a figure: k-NN and linear-probe accuracy per kind, and each unit's KS distance from N(0, 1)."""
    from matplotlib.figure import Figure

    kinds = list(results)
    fig = Figure(figsize=(10.0, 3.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    positions = np.arange(len(kinds))
    for offset, key, label in ((-0.2, "knn_accuracy", "k-NN"), (0.2, "linear_probe_accuracy", "linear probe")):
        values = [results[kind][key] for kind in kinds]
        bars = left.bar(positions + offset, values, width=0.4, label=label)
        left.bar_label(bars, fmt="%.2f", fontsize=7)
    left.set_xticks(positions, [kind.upper() for kind in kinds])
    left.set_ylim(0, 1)
    left.set_ylabel("test accuracy (10 classes)")
    left.legend(fontsize=8, loc="lower right")
    for i, kind in enumerate(kinds):
        ks = results[kind]["ks"]
        right.scatter(np.full(len(ks), i) + np.linspace(-0.15, 0.15, len(ks)), ks, s=12)
        right.plot([i - 0.25, i + 0.25], [results[kind]["mean_ks"]] * 2, "k-")
    right.set_xticks(positions, [kind.upper() for kind in kinds])
    right.set_ylim(0, 1)
    right.set_ylabel("KS statistic vs N(0, 1), per unit")
    right.set_title("How the codes fill the prior (lower: closer)")
    return fig


def run(data, models, seed=0):
    """Experiment 4; returns `(results, figures)`."""
    results = compare_representations(data, models, seed=seed)
    return results, {"representations": plot_representations(results)}
