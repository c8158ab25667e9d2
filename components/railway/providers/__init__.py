"""Pulumi dynamic providers for Railway, one module per resource kind.

Shared rules (see base.py): providers hold no client or token (they are pickled into state);
the token arrives through configure() or the environment; read() reports drift and deletion;
update() returns complete outputs.
"""
