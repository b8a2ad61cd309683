"""Archives of the log's old partitions (manage.py archive_events; docs/eventstore.md).

`eligibility` says which partitions may go (delivered everywhere, below the
horizon), `files` writes and checks the compressed files and their manifest,
`archiving` exports, verifies and only then detaches, and `source` gives the
archived events back to a replay, in position order, before the live log.
"""
