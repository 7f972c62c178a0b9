"""The benchmark of the mock (``make bench``, ``python -m bench``): not a test.

It starts servers on free loopback ports, loads each with fixed requests whose answers
it checks, and prints one table of medians (``docs/performance.md`` says how to read
it). The pieces, so that more servers and paths slot in without a rewrite:

``paths``    what is sent, and the status every answer must have
``targets``  a server to measure (``Target``): start, ready time, memory, CPU, stop
``stores``   the mock's configurations (store × workers) and the stores they need
``load``     wrk, else a bounded Python load generator
``run``      every target × path, repeated: raw samples
``report``   medians, ratios to a baseline, the table, JSON
``cli``      the flags
"""
