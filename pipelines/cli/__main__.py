"""`python -m pipelines.cli`: the same as the `ledgerbridge` command."""

from pipelines.cli import main

main()
