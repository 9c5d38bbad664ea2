"""beta-VAE against beta-TCVAE on the sprites set: four disentanglement metrics and reconstruction.

For beta in {1, 2, 4, 8, 16} and each of two methods, beta-VAE (the KL weighted by beta,
`objective="elbo"`) and beta-TCVAE (the total correlation weighted by beta, `objective="tcvae"`,
`tc_weight=beta`), trains the package's MLP VAE (latent_dim 8, Bernoulli likelihood, Adam 1e-3,
batch 64) for a fixed budget of STEPS steps on 90 % of "sprites_medium" (32 x 32, 3 shapes x 4
scales x 8 orientations x 12 x 12 positions = 13,824 images), with SEEDS seeds each, then records
the held-out reconstruction term E_q[log p(x|z)] (nats per image) and MIG, FactorVAE score,
DCI disentanglement / completeness / informativeness and beta-VAE score
(`keras_vae.disentanglement.evaluate_disentanglement`, sample sizes scaled by METRIC_SCALE, on the
whole factor grid). Writes bench/results/disentanglement.json after every run (atomically) and
bench/results/disentanglement_tradeoff.png (metric against reconstruction, mean and standard
deviation over seeds per beta).

Seeds run outermost, so a run stopped by the time limit (TIME_LIMIT seconds) still has every
configuration for the seeds it finished; `--resume` keeps the runs already in the JSON file and
trains only the (method, beta, seed) configurations it lacks.

    nice -n 5 python bench/bench_disentanglement.py
    nice -n 5 python bench/bench_disentanglement.py --resume   # complete a run cut by the time limit
    python bench/bench_disentanglement.py --table     # the summary as a Markdown table
"""

import json
import os
import platform
import sys
import time

import numpy as np

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
BETAS = (1, 2, 4, 8, 16)
METHODS = ("beta-VAE", "beta-TCVAE")
SEEDS = (0, 1, 2)
STEPS = 300
BATCH = 64
LATENT_DIM = 8
VARIANT = "sprites_medium"
METRIC_SCALE = 0.3
TIME_LIMIT = 30 * 60
METRICS = ("mig", "factor_vae", "dci_disentanglement", "dci_completeness", "dci_informativeness", "beta_vae")


def one_run(method, beta, seed, splits, factors):
    import keras

    from keras_vae.data import make_dataset, make_epoch_dataset
    from keras_vae.disentanglement import evaluate_disentanglement
    from keras_vae.models import build_model

    keras.utils.set_random_seed(seed)
    train_x, test_x = splits["train"][0].astype("float32"), splits["test"][0].astype("float32")
    options = {"beta": float(beta)} if method == "beta-VAE" else {
        "objective": "tcvae", "tc_weight": float(beta), "dataset_size": len(train_x)}
    model = build_model("vae", train_x.shape[1:], "mlp", LATENT_DIM, seed=seed, **options)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
    data, steps = make_epoch_dataset(train_x, batch_size=BATCH, binarize="none", seed=seed, epochs=1,
                                     steps_per_epoch=STEPS)
    start = time.perf_counter()
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    train_seconds = time.perf_counter() - start
    test = model.evaluate(make_dataset(test_x, batch_size=256, shuffle=False), verbose=0, return_dict=True)
    start = time.perf_counter()
    scores = evaluate_disentanglement(
        lambda x: keras.ops.convert_to_numpy(model.embed(x)), factors, seed=seed, scale=METRIC_SCALE
    )
    return {
        "method": method, "beta": beta, "seed": seed,
        "reconstruction": float(test["reconstruction"]), "kl": float(test["kl"]), "elbo": float(test["elbo"]),
        **{name: scores[name] for name in METRICS},
        "sample_sizes": scores["sample_sizes"],
        "train_seconds": train_seconds, "metric_seconds": time.perf_counter() - start,
    }


def summarise(runs):
    table = []
    for method in METHODS:
        for beta in BETAS:
            rows = [r for r in runs if r["method"] == method and r["beta"] == beta]
            if not rows:
                continue
            entry = {"method": method, "beta": beta, "seeds": len(rows)}
            for name in ("reconstruction", "kl") + METRICS:
                values = np.array([r[name] for r in rows])
                entry[name] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(rows) > 1 else 0.0,
                               "min": float(values.min()), "max": float(values.max())}
            table.append(entry)
    return table


def plot(table, path):
    from matplotlib.figure import Figure

    from keras_vae.plotting import save_figure

    fig = Figure(figsize=(10, 7.5), layout="constrained")
    shown = ("mig", "factor_vae", "dci_disentanglement", "beta_vae")
    titles = {"mig": "MIG", "factor_vae": "FactorVAE score", "dci_disentanglement": "DCI disentanglement",
              "beta_vae": "beta-VAE score"}
    for index, name in enumerate(shown):
        ax = fig.add_subplot(2, 2, index + 1)
        for method, marker in zip(METHODS, ("o", "s")):
            rows = [e for e in table if e["method"] == method]
            x = [e["reconstruction"]["mean"] for e in rows]
            ax.errorbar(x, [e[name]["mean"] for e in rows], xerr=[e["reconstruction"]["std"] for e in rows],
                        yerr=[e[name]["std"] for e in rows], marker=marker, capsize=3, label=method)
            for e in rows:
                ax.annotate(f"{e['beta']:g}", (e["reconstruction"]["mean"], e[name]["mean"]), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("held-out reconstruction E_q[log p(x|z)] (nats per image)")
        ax.set_ylabel(titles[name])
        ax.grid(alpha=0.3)
        if index == 0:
            ax.legend(fontsize=8)
    fig.suptitle(f"{VARIANT}: metric against reconstruction; labels are beta; bars one std over seeds")
    save_figure(fig, path)


def main(resume=False):
    import keras
    import tensorflow as tf

    from keras_vae import atomic
    from keras_vae.data.sprites import load_sprite_splits
    from keras_vae.disentanglement import FactorDataset

    load_before = list(os.getloadavg())
    splits = load_sprite_splits(VARIANT, test_fraction=0.1, seed=0)
    factors = FactorDataset.from_sprites(VARIANT)
    runs, skipped, sessions = [], [], []
    started = time.perf_counter()
    out = os.path.join(RESULTS, "disentanglement.json")
    if resume and os.path.exists(out):
        with open(out) as f:
            previous = json.load(f)
        runs = previous["runs"]
        sessions = previous.get("earlier_sessions", []) + [
            {"wall_seconds": previous["wall_seconds"], "machine": previous["machine"]}]
    done = {(r["method"], r["beta"], r["seed"]) for r in runs}
    def write():
        data = {
            "description": __doc__.split("\n\n")[0],
            "setup": {"variant": VARIANT, "steps": STEPS, "batch_size": BATCH, "latent_dim": LATENT_DIM,
                      "architecture": "mlp", "likelihood": "bernoulli", "optimizer": "Adam 1e-3",
                      "betas": BETAS, "methods": METHODS, "seeds": SEEDS, "metric_scale": METRIC_SCALE,
                      "test_fraction": 0.1, "tcvae_weight": "tc_weight = beta, MI and dimension-wise KL at 1"},
            "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                        "tensorflow": tf.__version__, "keras": keras.__version__,
                        "load_average_1_5_15_min_at_start": load_before,
                        "load_average_1_5_15_min_now": list(os.getloadavg()),
                        "shared": "2 vCPU shared with other jobs while measured"},
            "wall_seconds": time.perf_counter() - started,
            "earlier_sessions": sessions,
            "summary": summarise(runs),
            "runs": runs,
            "skipped_for_time": skipped,
        }
        atomic.write_json(out, data)

    for seed in SEEDS:
        for method in METHODS:
            for beta in BETAS:
                if (method, beta, seed) in done:
                    continue
                if time.perf_counter() - started > TIME_LIMIT:
                    skipped.append({"method": method, "beta": beta, "seed": seed})
                    continue
                row = one_run(method, beta, seed, splits, factors)
                runs.append(row)
                print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()
                                  if k != "sample_sizes"}), flush=True)
                write()

    write()  # with the runs skipped for time
    plot(summarise(runs), os.path.join(RESULTS, "disentanglement_tradeoff.png"))
    print(f"wrote {out}; {len(runs)} runs, {len(skipped)} skipped, {time.perf_counter() - started:.0f} s",
          file=sys.stderr)


def markdown_table(path=None):
    """The summary of bench/results/disentanglement.json as a Markdown table (mean +- std over seeds)."""
    with open(path or os.path.join(RESULTS, "disentanglement.json")) as f:
        summary = json.load(f)["summary"]
    names = ("reconstruction", "kl") + METRICS
    lines = ["| method | beta | seeds | " + " | ".join(names) + " |", "|---" * (3 + len(names)) + "|"]
    for e in summary:
        cells = [f"{e[n]['mean']:.3f} +- {e[n]['std']:.3f}" if n in METRICS else f"{e[n]['mean']:.1f} +- {e[n]['std']:.1f}"
                 for n in names]
        lines.append(f"| {e['method']} | {e['beta']} | {e['seeds']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--table"]:
        print(markdown_table())
    elif sys.argv[1:] in ([], ["--resume"]):
        main(resume=sys.argv[1:] == ["--resume"])
    else:
        sys.exit("usage: bench_disentanglement.py [--resume | --table]")
