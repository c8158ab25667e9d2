"""The backup runner: logical PostgreSQL backups that count as good only once proven.

Commands (`python -m backup_runner --help`): run, list, prune, restore, verify. It is what the
backup containers of every stack run, shipped with the Postgres client tools in one image.
"""
