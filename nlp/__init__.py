"""NLP enrichment (language, places, sentiment, crime relevance, abuse, entities).

The pipeline lands with its own issue; until then posts are indexed with an
empty ``enrichment`` block and every downstream reader copes with that.
"""
