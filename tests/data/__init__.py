"""Tests of explorer.data: readers, named datasets, dSprites generator, fitting to a model."""
