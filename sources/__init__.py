"""One module per external format. Each source is a small class with `identify` and `parse`
(beangulp's importer protocol); `sources.registry` holds the one list of them.

Sources never import Prefect or the database: they turn a file into normalized records.
"""
