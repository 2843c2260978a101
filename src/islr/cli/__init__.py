"""islr.cli."""
