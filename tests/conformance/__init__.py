"""Tests of the conformance harness, and the independent targets it is run against."""
