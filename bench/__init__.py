"""Benchmarks of the event store, the relay and the API (`make bench`, docs/benchmarks.md).

Not part of the test suite: nothing here asserts a time. The platform never imports this package.
"""
