"""The README's commands and snippets do what the README says, read from README.md itself.

Each test takes its text from a README section with a regex (as tests/test_readme.py does), so a
change to either the README or the code that makes them disagree fails here.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest

from keras_vae import plotting
from keras_vae.cli import COMMANDS, build_parser, main
from tests.helpers import free_ports

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
NUMBERS = {"two": 2, "three": 3}


def section(title):
    """Returns the README's text under the heading `title` (`##` or `###`), up to the next heading."""
    text = open(README, encoding="utf-8").read()
    # `##+`: a `# comment` line inside a code block is no heading.
    match = re.search(rf"^##+ {re.escape(title)}\n(.*?)(?=^##+ |\Z)", text, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def test_the_command_line_block_lists_every_command_and_option():
    block = re.search(r"```\n(keras-vae train .*?)```", section("Command line"), re.S).group(1)
    # Each command's synopsis: its `keras-vae NAME` line and the indented lines after it.
    synopses = dict(re.findall(r"^keras-vae (\w+)(.*?)(?=^keras-vae |\Z)", block, re.S | re.M))
    assert sorted(synopses) == sorted(COMMANDS)
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        options = {s for a in sub._actions for s in a.option_strings if s.startswith("--")}
        # --help and --verbose: every command has them, and the README says so below the block.
        missing = sorted(o for o in options - {"--help", "--verbose"} if not re.search(rf"{o}\b(?!-)", synopses[name]))
        assert not missing, f"README's 'Command line' block leaves out keras-vae {name} {missing}"


@pytest.mark.slow(reason="trains a VAE through the command line in-process: tracing and XLA take ~8 s")
def test_the_table_command_trains_the_mlp_pair_with_a_gaussian_decoder(tmp_path, monkeypatch, capsys):
    command = re.search(r"`(keras-vae train --data table\.csv)`", section("Data")).group(1)
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(40, 2)) @ rng.normal(size=(2, 5)) * 10 + 3
    with open("table.csv", "w") as f:  # a numeric table with a header, as the README says
        f.write("a,b,c,d,e\n" + "\n".join(",".join(f"{v:.3f}" for v in row) for row in rows) + "\n")
    # One epoch instead of 30, as tests/test_readme.py's quickstart: the data decides the defaults, not the epochs.
    assert main(shlex.split(command)[1:] + ["--epochs", "1"]) == 0
    assert "Test ELBO" in capsys.readouterr().out
    settings = json.loads((tmp_path / "runs" / "default" / "metrics.json").read_text())["settings"]
    assert (settings["likelihood"], settings["binarize"], settings["architecture"]) == ("gaussian", "none", "mlp")


def test_reconstructions_png_is_what_the_artifact_table_says(tmp_path, monkeypatch):
    from keras_vae.models.builder import build_model
    from keras_vae.runs import Split
    from keras_vae.settings import TrainSettings
    from keras_vae.training import write_figures

    row = re.search(r"^\| `reconstructions\.png` \| (.*) \|$", open(README, encoding="utf-8").read(), re.M).group(1)
    binarized, plain = re.fullmatch(r"(.*) \((.*)\)", row).groups()
    claims = {"dynamic": binarized, "none": plain}
    titles = {}
    save = plotting.save_figure

    def record(figure, path):
        titles[os.path.basename(path)] = figure._suptitle.get_text()
        save(figure, path)

    monkeypatch.setattr(plotting, "save_figure", record)
    model = build_model("vae", (8, 8, 1), latent_dim=2, seed=0)
    images = np.random.default_rng(0).uniform(size=(30, 8, 8, 1)).astype("float32")
    for binarize, claim in claims.items():
        write_figures(model, TrainSettings(binarize=binarize), Split(images), str(tmp_path))
        labels = titles["reconstructions.png"].removesuffix(" in turn, row by row").lower().split(", ")
        words = re.search(r"groups of (\w+) rows", claim).group(1)
        assert NUMBERS[words] == len(labels), (claim, labels)
        # The README names the figure's rows in the figure's order.
        positions = [claim.find(label) for label in labels]
        assert -1 not in positions and positions == sorted(positions), (claim, labels)
    assert re.match(r"24 test images, 8 per row", binarized)


@pytest.mark.slow(reason="trains a beta-TCVAE on sprites and scores it at the snippet's default sample sizes (~15 s)")
def test_the_disentanglement_snippet_runs(tmp_path, monkeypatch, capsys):
    text = section("Disentanglement: sprites, beta-TCVAE and the metrics")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    # The run the snippet reads: the README's tcvae command, on the small sprites set, for a few steps.
    train = re.search(r"^keras-vae (train .*--objective tcvae.*?)\s+#", text, re.M).group(1)
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(train.replace("sprites_medium", "sprites_small"))
    assert main(argv + ["--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "64", "--latent-dim", "3",
                        "--no-jit"]) == 0
    namespace = {}
    exec(compile(code, README, "exec"), namespace)
    scores = namespace["scores"]
    for name in ("mig", "factor_vae", "dci_disentanglement", "beta_vae"):
        assert 0.0 <= scores[name] <= 1.0, (name, scores[name])
    assert str(scores["mig"]) in capsys.readouterr().out


@pytest.mark.slow(reason="two worker processes train the README's cluster command over loopback (~60 s)")
def test_the_cluster_command_as_written_trains_on_two_cpu_workers(tmp_path):
    text = section("Training on several GPUs or a cluster, and surviving interruption")
    block = re.search(r"\*\*A cluster\*\*.*?```bash\n(.*?)```", text, re.S).group(1)
    config, command = re.search(r"^TF_CONFIG='(.*?)' \\\n\s+(keras-vae train .*)$", block, re.M).groups()
    assert '"index": 1' in block  # machine B: the same command with its own index
    config = json.loads(config)
    argv = shlex.split(command)
    data, out = argv[argv.index("--data") + 1], argv[argv.index("--out") + 1]
    assert "--no-jit" not in argv  # the README's command compiles as it likes; uses_xla decides
    # Two workers on one machine: the README's hosts become loopback ports, its shared paths tmp_path.
    hosts = config["cluster"]["worker"]
    assert len(hosts) == 2
    config["cluster"]["worker"] = [f"127.0.0.1:{port}" for port in free_ports(2)]
    np.save(tmp_path / "images.npy", np.random.default_rng(0).integers(0, 256, (40, 8, 8), np.uint8))
    argv[argv.index(data)] = str(tmp_path / "images.npy")
    argv[argv.index(out)] = str(tmp_path / "cluster")
    # The README: any other train option goes on every worker alike; two epochs instead of 30.
    assert "any other `keras-vae train` option (`--epochs 5`" in text
    argv += ["--epochs", "2"]
    executable = shutil.which(argv[0], path=os.path.dirname(sys.executable)) or shutil.which(argv[0])
    assert executable, "the keras-vae console script is not installed"
    env = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
    env["CUDA_VISIBLE_DEVICES"] = ""
    workers = []
    for index in range(2):
        config["task"]["index"] = index
        workers.append(subprocess.Popen(
            [executable] + argv[1:], env={**env, "TF_CONFIG": json.dumps(config)}, cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    try:
        results = [worker.communicate(timeout=240) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for worker, (stdout, stderr) in zip(workers, results):
        assert worker.returncode == 0, stderr[-3000:]
        assert "not implemented for CPU devices when compiling with XLA" not in stderr
    assert "Test ELBO" in results[0][0]
    run = tmp_path / "cluster"
    assert json.loads((run / "metrics.json").read_text())["status"] == "finished"
    assert (run / "model.keras").is_file() and not (run / ".worker-1").exists()
