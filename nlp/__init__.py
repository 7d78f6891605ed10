"""NLP enrichment: language, triage, entities, one shared encoder feeding the
sentiment/abuse/crime heads, and the UK geoparser (docs/analysts/).

``nlp.build.build_pipeline`` assembles the configured components; the drain
path (spool -> NLP -> index) runs them in an executor.
"""
