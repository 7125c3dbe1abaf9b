"""Async clients of the target systems; errors are translated to ``xstream.errors`` at the HTTP boundary
(``xstream.http``)."""
