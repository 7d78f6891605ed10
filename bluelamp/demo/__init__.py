"""Synthetic demo data for Bluelamp (bundled demo stream and benchmarks)."""
