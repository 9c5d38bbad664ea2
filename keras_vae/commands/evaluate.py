"""`keras-vae evaluate RUN_DIR --importance-samples K`: importance-sampled NLL of a run, as JSON."""

import argparse
import os
import sys

from keras_vae.commands.arguments import number, positive_int


def disentanglement_scale(text):
    """argparse type: a scale of the disentanglement metrics' sample sizes (`disentanglement.check_scale`).

    Args:
        text: str, the option's value.
    """
    from keras_vae.disentanglement import check_scale  # scipy: only when the option is given

    try:
        return check_scale(number(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_parser(subparsers):
    """Adds the `evaluate` sub-command to an argparse `subparsers` object; returns its parser."""
    evaluate = subparsers.add_parser("evaluate", help="importance-sampled log-likelihood of a trained run")
    evaluate.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `keras-vae train`")
    evaluate.add_argument("--importance-samples", type=positive_int, default=None,
                          help="importance samples K per image, for models with a bound (default: 1000); "
                               "refused for runs whose evaluation draws none (flows, m2)")
    evaluate.add_argument("--split", default="test", help="dataset split (default: %(default)s)")
    evaluate.add_argument("--max-examples", type=positive_int, default=None, help="evaluate the first N images")
    evaluate.add_argument("--batch-size", type=positive_int, default=100, help="(default: %(default)s)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the importance samples (default: 0)")
    evaluate.add_argument("--disentanglement", action="store_true",
                          help="also score MIG, FactorVAE, DCI and beta-VAE on the run's factors (sprites runs)")
    evaluate.add_argument("--disentanglement-scale", type=disentanglement_scale, default=1.0,
                          help="with --disentanglement: multiplies the metrics' default sample sizes; a scale "
                               "giving too few or too many samples is refused with the valid range (default: %(default)s)")
    evaluate.add_argument("--out", default=None, help="output JSON (default: RUN_DIR/evaluation.json)")
    return evaluate


def run(args):
    """Runs `keras-vae evaluate`; returns the exit code (0 ok, 2 error)."""
    from keras_vae.data import DataError
    from keras_vae.evaluation import EVALUATION_FILE, evaluate_run

    try:
        result = evaluate_run(
            args.run_dir,
            num_samples=args.importance_samples,
            split=args.split,
            max_examples=args.max_examples,
            out=args.out,
            batch_size=args.batch_size,
            seed=args.seed,
            disentanglement=args.disentanglement,
            disentanglement_scale=args.disentanglement_scale,
        )
    # OSError: an --out that cannot be written (checked before the evaluation).
    except (ValueError, TypeError, OSError, DataError) as error:
        print(f"keras-vae evaluate: error: {error}", file=sys.stderr)
        return 2
    if "accuracy" in result:  # a model with a classifier (m2): classification next to its bounds
        print(
            f"Test accuracy {result['accuracy']:.4f} (error {result['error']:.4f}); labelled bound "
            f"{result['labelled_bound']:.2f}, unlabelled bound {result['unlabelled_bound']:.2f} nats per example; "
            f"{result['num_examples']} {args.split} images in {result['seconds']:.0f} s; written to "
            f"{args.out or os.path.join(args.run_dir, EVALUATION_FILE)}"
        )
        return 0
    if "elbo" not in result:  # an exact likelihood (a flow): the same units, no bound terms
        print(
            f"exact NLL {result['nll']:.2f} +- {result['nll_standard_error']:.2f} nats per example "
            f"({result['bits_per_dim']:.4f} bits/dim, 8-bit data, uniform dequantisation); {result['num_examples']} "
            f"{args.split} images in {result['seconds']:.0f} s; written to "
            f"{args.out or os.path.join(args.run_dir, EVALUATION_FILE)}"
        )
        return 0
    print(
        f"IS-{result['num_samples']} NLL {result['nll']:.2f} +- {result['nll_standard_error']:.2f} nats per example "
        f"({result['bits_per_dim']:.4f} bits/dim); ELBO {result['elbo']:.2f}; KL {result['kl']:.2f}; "
        f"{result['active_units']} active units; {result['num_examples']} {args.split} images in "
        f"{result['seconds']:.0f} s; written to {args.out or os.path.join(args.run_dir, EVALUATION_FILE)}"
    )
    if "disentanglement" in result:
        scores = result["disentanglement"]
        print(
            f"Disentanglement: MIG {scores['mig']:.3f}, FactorVAE {scores['factor_vae']:.3f}, DCI "
            f"{scores['dci_disentanglement']:.3f} / {scores['dci_completeness']:.3f} / "
            f"{scores['dci_informativeness']:.3f}, beta-VAE {scores['beta_vae']:.3f}"
        )
    return 0
