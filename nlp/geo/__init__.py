"""UK location extraction: gazetteer, geoparser component, police force areas."""

from nlp.geo.forces import FORCE_NAMES, FORCES, canonical_force, force_at, force_for_lad
from nlp.geo.geoparser import Geoparser, GeoparserConfig

__all__ = [
    "FORCES",
    "FORCE_NAMES",
    "Geoparser",
    "GeoparserConfig",
    "canonical_force",
    "force_at",
    "force_for_lad",
]
