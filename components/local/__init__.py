"""The local Docker target (pulumi-docker)."""

from .stack import LocalStack

__all__ = ["LocalStack"]
