"""Comparing models side by side on the same dataset: aligned embeddings (`align`), one measurement of
every model on the same images (`run`), the scorecard (`scorecard`, columns in `columns`, the paired
bootstrap in `bootstrap`) and its tables (`tables`)."""
