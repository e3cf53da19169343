"""Comparing models side by side on the same dataset: aligned embeddings (`align`)."""
