"""islr.data."""
