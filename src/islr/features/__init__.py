"""islr.features."""
