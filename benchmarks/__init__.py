"""newsbot's benchmarks: summary quality, ingest throughput, read latency and digest fan-out, each against a
baseline measured in the same run. `python -m benchmarks --help`; the results go to BENCHMARKS.md.

Not part of the installed package and not tests: nothing here asserts on a figure.
"""
