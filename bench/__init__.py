"""The benchmark of the mock (``make bench``, ``python -m bench``): not a test.

It starts servers on free loopback ports, loads each with the paths' requests (a fresh
record of its own for each request of the 200 paths), checks every answer's status, and
prints one table of medians (``docs/performance.md`` says how to read it). The pieces,
so that more servers and paths slot in without a rewrite:

``paths``    what is sent, and the status every answer must have
``bare``     the bare handler: the floor the mock is measured against, on each server
``targets``  a server to measure (``Target``): start, ready time, memory, CPU, stop
``stores``   every target of a run (the bare handler and the mock on uvicorn and
             Granian, the mock per store × workers), and the stores they need
``load``     wrk, else a bounded Python load generator
``run``      every target × path, repeated: raw samples
``report``   medians, ratios to the baselines, the tables, the goals, JSON
``wire``     HTTP/1.1 on plain sockets (probes, creating records, the Python load)
``procs``    what ``/proc`` says: a server's processes, memory, CPU time
``cli``      the flags
"""
