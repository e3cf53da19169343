"""The `latent-explorer` command: `main` parses the subcommands (main.py) and runs them.

Subcommand modules: ``main`` (open, train, info, evaluate, bench and the parser), ``traversal``
and ``reconstruction`` and ``session`` (their render kinds and the ``session`` subcommand),
``args`` (argparse types and the dataset options shared by all of them).
"""

from explorer.cli.main import SUBCOMMANDS, build_parser, main

__all__ = ["main", "build_parser", "SUBCOMMANDS"]
