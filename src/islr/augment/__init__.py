"""islr.augment."""
