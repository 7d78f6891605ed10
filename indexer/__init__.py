"""Indexer: the search-engine adapter, index layout, bulk indexing and retention."""
