"""The dev target's Pulumi dynamic providers over the Docker Engine API (one module per kind).

They need no provider plugin download, so the dev stack's `pulumi up` runs offline and on the
engine CI runs; see base.py for what they share.
"""
