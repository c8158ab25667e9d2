"""The local Docker target: the dev stack on a Docker engine, through the project's own providers."""

from .stack import LocalStack

__all__ = ["LocalStack"]
