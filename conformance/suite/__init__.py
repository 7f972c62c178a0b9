"""The harness as a pytest suite: ``pytest --pyargs conformance.suite --conformance-...``."""
