"""Sub-commands of `keras-vae` beyond `train`: each module has `add_parser(subparsers)` and `run(args)`."""
