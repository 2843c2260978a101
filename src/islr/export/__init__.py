"""islr.export."""
