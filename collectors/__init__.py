"""Collectors: one module per platform or input, each producing Posts."""
