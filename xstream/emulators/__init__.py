"""HTTP emulators of the systems xstream talks to, shipped in the package so `xstream demo` runs anywhere.

Each emulator keeps its state in a pure in-memory model (no aiohttp) and puts a thin aiohttp layer
on top that reproduces the real wire behaviour (encodings, status codes, error bodies) plus an
unauthenticated ``/admin`` API for tests and the demo (state, call counts, reset, fault injection).
"""
