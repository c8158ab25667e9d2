"""Aligned columns, as `docker-compose ps` prints them."""

from __future__ import annotations


def table(rows: list[list[str]]) -> str:
    """The rows (the first is the header) with each column as wide as its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )
