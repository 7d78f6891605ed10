"""Test support: real services started for the suite, and fault injection."""
