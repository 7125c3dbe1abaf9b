"""The crash suite: real workers SIGKILLed while events flow, restarted, then every effect counted.

``tests/chaos/test_crash_suite.py`` runs it at CI scale; ``python -m tests.chaos`` at full scale.
See ``tests/chaos/suite.py`` for what is measured.
"""
