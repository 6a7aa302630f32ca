"""`python -m app` is the `mashang` command (`mashang serve` starts its ticker this way)."""

from app.cli import main

main()
