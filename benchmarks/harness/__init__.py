"""The benchmarks' reusable pieces: what ``bench.py``, ``openmodel.py`` and ``soak.py`` run on.

* ``processes``: the process tree, its CPU time and RSS from ``/proc``; pinning to a core,
  starting and stopping a command;
* ``clients``: the one-GET scenario and the clients' commands (molotov, Molotov 2.6);
* ``servers``: ``target.py`` in a subprocess, read on its control endpoint; a StatsD sink;
* ``measure``: one row's measured window (requests/s, CPU per request, RSS), medians and
  per-pass ratios;
* ``startup``: time to first request, wall times, heavy imports;
* ``output``: tables, the machine and the molotov under test;
* ``ab``: two clients at once on one core, paired (``bench.py --ab``);
* ``objects``: the memory that Python objects hold (``series_day.py``, ``parent_memory.py``).

Nothing here imports ``bench.py`` or a benchmark module: they import the harness.
"""
