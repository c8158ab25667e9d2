"""A Railway API emulator for tests and offline rehearsals.

Honest by construction: every request is parsed and validated against Railway's published
schema and executed by graphql-core over an in-memory model; errors, auth, rate-limit headers and
the deployment lifecycle follow Railway's documented behaviour; faults can be injected. Start it
with `./mvs emulator` (or `python -m railway_emulator`).
"""
