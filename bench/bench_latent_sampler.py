"""What a latent flow sampler changes: VAE samples from z ~ N(0, I) against z ~ a flow fitted to q(z).

    python bench/bench_latent_sampler.py [--vae-steps 14000] [--sampler-epochs 20] [--samples 10000]

1. Trains the M1 VAE of bench_semi_supervised.py (`build_vae`, MLP 512-256, z = 32, Bernoulli,
   dynamic binarization, batch 128, Adam 1e-3) on Fashion-MNIST's 60,000 training images.
2. Fits `keras_vae.flows.fit_latent_sampler` (4 steps of ActNorm, LU 1x1 convolution and affine
   coupling) on the posterior means of the training images.
3. Decodes --samples latents of each kind to mean images E[x|z], three sample seeds each, and
   measures them with a classifier trained on the training images (`MLPClassifier`, 500-500
   softplus, 5 epochs on grey pixels; its test accuracy is recorded):
     - Frechet distance (FD) between Gaussians fitted to the classifier's last hidden layer
       (500 features) of the samples and of the 10,000 test images: the FID recipe with this
       classifier in place of Inception, so the figures compare with each other only;
     - classifier score exp(E_x KL(p(y|x) || p(y))) (the Inception-score recipe; 10 at most):
       high when each sample is recognisably one class and the classes are balanced;
     - the mean probability of the predicted class.
   References on the same scale: the test images' own FD to themselves split in halves is not
   zero (finite samples); the VAE's reconstructions E[x|z = E q(z|x)] of the test images are what
   the decoder gives when fed codes that images actually have.
4. The fit of the sampler itself: mean log-density of the TEST images' posterior means under the
   flow and under N(0, I) (nats per code).

Writes bench/results/latent_sampler.json (atomically).
"""

import argparse
import json
import os
import platform
import sys
import time

import keras
import numpy as np
import scipy.linalg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from keras_vae import atomic  # noqa: E402
from keras_vae.data import load_tfds_images, make_epoch_dataset  # noqa: E402
from keras_vae.flows.latent_sampler import fit_latent_sampler  # noqa: E402
from keras_vae.models import build_vae  # noqa: E402
from keras_vae.networks.classifier import MLPClassifier  # noqa: E402


def train_vae(images, steps, seed=0):
    keras.utils.set_random_seed(seed)
    model = build_vae(images.shape[1:], latent_dim=32, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    data, steps = make_epoch_dataset(images, batch_size=128, binarize="dynamic", seed=seed, steps_per_epoch=steps)
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, verbose=0)
    return model, time.perf_counter() - start


def train_classifier(images, labels, seed=0, epochs=5):
    keras.utils.set_random_seed(seed)
    classifier = MLPClassifier(10, name="classifier")
    inputs = keras.Input(images.shape[1:])
    model = keras.Model(inputs, classifier(inputs))
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(images, labels, epochs=epochs, batch_size=128, verbose=0)
    return classifier, model


def features_and_probabilities(classifier, images, batch_size=1000):
    """The classifier's last hidden layer (the FD features) and its softmax, for images (N, 28, 28, 1)."""
    features, probabilities = [], []
    for start in range(0, len(images), batch_size):
        h = classifier.flatten(images[start : start + batch_size])
        for layer in classifier.hidden:
            h = layer(h)
        features.append(np.asarray(h, np.float64))
        probabilities.append(np.asarray(keras.ops.softmax(classifier.logits(h)), np.float64))
    return np.concatenate(features), np.concatenate(probabilities)


def frechet_distance(a, b):
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of Gaussians fitted to the rows of a and b."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    root = root.real  # rounding leaves an imaginary part of order 1e-10
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * root))


def classifier_score(probabilities):
    marginal = probabilities.mean(0)
    kl = np.sum(probabilities * (np.log(probabilities + 1e-12) - np.log(marginal + 1e-12)), axis=1)
    return float(np.exp(kl.mean()))


def measure(classifier, images, reference_features):
    features, probabilities = features_and_probabilities(classifier, images)
    return {
        "frechet_distance": frechet_distance(features, reference_features),
        "classifier_score": classifier_score(probabilities),
        "mean_top_probability": float(probabilities.max(1).mean()),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vae-steps", type=int, default=14000, help="VAE training steps (default: 30 epochs)")
    parser.add_argument("--sampler-epochs", type=int, default=20)
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--seeds", type=int, default=3, help="sample seeds per kind of latent")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "latent_sampler.json"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    x, y = load_tfds_images("fashion_mnist", "train", data_dir=args.data_dir)
    x_test, y_test = load_tfds_images("fashion_mnist", "test", data_dir=args.data_dir)

    vae, vae_seconds = train_vae(x, args.vae_steps)
    start = time.perf_counter()
    sampler = fit_latent_sampler(vae, x, epochs=args.sampler_epochs, seed=0)
    sampler_seconds = time.perf_counter() - start
    test_codes = np.asarray(vae.embed(x_test))
    flow_log_density = float(np.mean(np.asarray(sampler.log_prob(test_codes))))
    normal_log_density = float(np.mean(-0.5 * np.sum(test_codes**2, 1) - 0.5 * test_codes.shape[1] * np.log(2 * np.pi)))

    classifier, classifier_model = train_classifier(x, y)
    test_accuracy = float(classifier_model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"])
    reference, _ = features_and_probabilities(classifier, x_test)

    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_at_start": os.getloadavg()},
        "settings": vars(args),
        "vae_train_seconds": vae_seconds,
        "sampler_fit_seconds": sampler_seconds,
        "classifier_test_accuracy": test_accuracy,
        "test_codes_mean_log_density": {"flow": flow_log_density, "standard_normal": normal_log_density},
        "references": {
            "test_images_half_vs_half": frechet_distance(reference[::2], reference[1::2]),
            "test_reconstructions": measure(classifier, np.asarray(vae.decode(test_codes)), reference),
            "test_images": {"classifier_score": classifier_score(features_and_probabilities(classifier, x_test)[1])},
        },
        "samples": {"standard_normal": [], "flow": []},
    }
    for seed in range(args.seeds):
        z_normal = np.asarray(vae.prior_latents(args.samples, seed))
        z_flow = np.asarray(sampler.sample(args.samples, seed=seed))
        for name, z in (("standard_normal", z_normal), ("flow", z_flow)):
            row = measure(classifier, np.asarray(vae.decode(z)), reference)
            result["samples"][name].append(row)
            print(name, seed, json.dumps(row), flush=True)
    result["summary"] = {
        name: {key: {"mean": float(np.mean([r[key] for r in rows])), "std": float(np.std([r[key] for r in rows], ddof=1))}
               for key in rows[0]}
        for name, rows in result["samples"].items()
    }
    result["wall_seconds"] = time.perf_counter() - started
    result["machine"]["load_average_at_end"] = os.getloadavg()
    atomic.write_json(args.out, result)
    print(json.dumps({k: result[k] for k in ("summary", "references", "test_codes_mean_log_density",
                                             "classifier_test_accuracy")}, indent=1))


if __name__ == "__main__":
    main()
