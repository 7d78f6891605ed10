"""Bluelamp: social-media intelligence and engagement monitor for UK police forces."""

__version__ = "0.1.0"
