"""islr.train."""
