"""Dry runs: what a record would make, explained, with the exact requests, and no I/O.

Above the pipeline in the layers (they run the pure paths of :mod:`xstream.pipeline` and the request
builders of :mod:`xstream.transform`), below the CLI that prints them.
"""
