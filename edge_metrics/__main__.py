"""`python -m edge_metrics`: the exporter (cli.py)."""

import sys

from .cli import main

sys.exit(main())
