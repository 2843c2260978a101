"""islr.model."""
