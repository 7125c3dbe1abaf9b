"""Async clients of the target systems; errors are translated to ``xstream.errors`` at their HTTP boundary."""
