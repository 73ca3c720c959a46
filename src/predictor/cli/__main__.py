"""``python -m predictor.cli``."""

from predictor.cli.app import main

main()
