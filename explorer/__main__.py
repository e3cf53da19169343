"""`python -m explorer` runs the `latent-explorer` command."""

from explorer.cli import main

raise SystemExit(main())
