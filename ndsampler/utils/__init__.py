"""Small helpers kept at the original's import paths."""
