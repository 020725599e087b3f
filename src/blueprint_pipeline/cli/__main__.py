"""`python -m blueprint_pipeline.cli` runs the same entry point as the `blueprint` script."""

from blueprint_pipeline.cli import main

main()
