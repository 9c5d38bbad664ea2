"""Test NLL of VAE model-family variants on dynamically binarized Fashion-MNIST at equal training budget.

Variants (same MLP 784-300-300-z40 ReLU networks, Bernoulli likelihood, Adam, batch 128):

  standard  diagonal Gaussian posterior, N(0, I) prior
  mixture   learned mixture-of-Gaussians prior (10 components)
  vamp      VampPrior (50 pseudo-inputs, Tomczak & Welling 2018)
  iaf       inverse autoregressive flow posterior (2 steps, 300 hidden units), N(0, I) prior

Each variant trains for --minutes of wall-clock training on dynamically binarized training images
and is then evaluated with keras_vae.evaluation.evaluate_split (IS-K, default K = 1000) on the
first --eval-examples test images, statically binarized once (seed 1) so all variants see the same
images. Results go to bench/results/model_family.json after every variant.

Published figures (all 10,000 test images, IS-5000, much longer training): 228.70 nats plain VAE,
227.35 VAE + VampPrior, 224.67 ConvHVAE + VampPrior (Norouzi et al. 2020, Exemplar VAE).

    python bench/bench_model_family.py --minutes 2 --eval-examples 2000
"""

import argparse
import json
import os
import platform
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
HIDDEN = (300, 300)
LATENT = 40
IMAGE = (28, 28, 1)
VARIANTS = {
    "standard": {"prior": "standard_normal", "posterior": "diagonal"},
    "mixture": {"prior": "mixture", "posterior": "diagonal"},
    "vamp": {"prior": "vamp", "posterior": "diagonal"},
    "iaf": {"prior": "standard_normal", "posterior": "iaf"},
}


def make_model(variant, seed=0):
    """Returns a built VAE of the given variant (see the module docstring)."""
    from keras_vae import VAE, MLPDecoder, MLPEncoder
    from keras_vae.posteriors import InverseAutoregressiveFlow

    options = dict(VARIANTS[variant])
    if options["posterior"] == "iaf":
        options["posterior"] = InverseAutoregressiveFlow(num_flows=2, hidden_units=HIDDEN[0])
    model = VAE(
        MLPEncoder(LATENT, hidden_units=HIDDEN, name="encoder"),
        MLPDecoder(IMAGE, hidden_units=HIDDEN[::-1], name="decoder"),
        likelihood="bernoulli",
        seed=seed,
        **options,
    )
    model.build((None, *IMAGE))
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.0, help="training wall-clock budget per variant")
    parser.add_argument("--steps", type=int, default=None,
                        help="train every variant for exactly this many steps instead (equal work under varying load)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of " + ",".join(VARIANTS))
    parser.add_argument("--eval-examples", type=int, default=2000)
    parser.add_argument("--eval-samples", type=int, default=1000, help="K of IS-K")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--steps-per-chunk", type=int, default=100, help="steps between budget checks")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory")
    parser.add_argument("--out", default=os.path.join(RESULTS, "model_family.json"))
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    from keras_vae.data import binarize_static, load_tfds_images, make_dataset
    from keras_vae.evaluation import evaluate_split, importance_sampled_log_likelihood

    kwargs = {"data_dir": args.data_dir} if args.data_dir else {}
    train_images = load_tfds_images("fashion_mnist", "train", **kwargs)[0]
    test_images = binarize_static(load_tfds_images("fashion_mnist", "test", **kwargs)[0], seed=1)[: args.eval_examples]
    data = {
        "description": "MLP 784-300-300-z40 (ReLU), Bernoulli likelihood, dynamic binarization, Adam; equal "
                       "training budget per variant (see 'budget'); test images statically binarized once (seed 1); "
                       "NLL = -IS-K estimate of log p(x), nats per image",
        "reference_nll": {"plain VAE": 228.70, "VAE + VampPrior": 227.35, "ConvHVAE + VampPrior": 224.67,
                          "source": "Norouzi et al. 2020 (Exemplar VAE), IS-5000, all 10,000 test images"},
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "eval_examples": int(len(test_images)),
        "eval_samples": args.eval_samples,
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "tensorflow": tf.__version__,
                    "keras": keras.__version__, "load_average_1_5_15_min": list(os.getloadavg())},
        "results": {},
    }
    first_log_px, first_name = None, None
    data["budget"] = f"{args.steps} steps per variant" if args.steps else f"{args.minutes} minutes per variant"
    for variant in args.variants.split(","):
        keras.utils.set_random_seed(0)
        model = make_model(variant)
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), jit_compile=True)
        train_data = make_dataset(train_images, batch_size=args.batch_size, shuffle=True, binarize="dynamic",
                                  seed=0, repeat=True)
        budget, train_seconds, steps, chunk = args.minutes * 60.0, 0.0, 0, 0
        while (steps < args.steps) if args.steps else (train_seconds < budget):
            start = time.perf_counter()
            history = model.fit(train_data, epochs=chunk + 1, initial_epoch=chunk,
                                steps_per_epoch=args.steps_per_chunk, verbose=0).history
            train_seconds += time.perf_counter() - start
            steps += args.steps_per_chunk
            chunk += 1
        start = time.perf_counter()
        result = evaluate_split(model, test_images, num_samples=args.eval_samples, batch_size=100)
        # Per-image estimates with the same seed: paired differences against the first variant.
        log_px = importance_sampled_log_likelihood(model, test_images, num_samples=args.eval_samples, batch_size=100)
        if first_log_px is None:
            first_log_px, first_name = log_px, variant
        else:
            difference = -(log_px.astype("float64") - first_log_px)
            result[f"nll_minus_{first_name}"] = float(difference.mean())
            result[f"nll_minus_{first_name}_standard_error"] = float(difference.std() / len(difference) ** 0.5)
        result.update({
            "prior": type(model.prior).__name__,
            "posterior": type(model.posterior).__name__,
            "train_seconds": train_seconds,
            "train_steps": steps,
            "epochs_equivalent": steps * args.batch_size / len(train_images),
            "final_train_elbo": float(history["elbo"][-1]),
            "eval_seconds": time.perf_counter() - start,
            "num_parameters": int(model.count_params()),
        })
        data["results"][variant] = result
        print(f"{variant:9s} {steps:6d} steps in {train_seconds:5.0f} s: IS-{args.eval_samples} NLL {result['nll']:.2f} "
              f"+- {result['nll_standard_error']:.2f} (ELBO {result['elbo']:.2f}, KL {result['kl']:.2f}, "
              f"{result['active_units']} active units)" + (
                  f"; vs {first_name}: {result[f'nll_minus_{first_name}']:+.2f} "
                  f"+- {result[f'nll_minus_{first_name}_standard_error']:.2f}" if variant != first_name else ""),
              flush=True)
        data["machine_at_end"] = {"load_average_1_5_15_min": list(os.getloadavg())}
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2)
        os.replace(tmp, args.out)
    return data


if __name__ == "__main__":
    main()
