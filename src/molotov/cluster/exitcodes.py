"""The exit codes of cluster runs, beside a local run's 0 (ok), 1 (failed gate), 2 (usage) and
99 (a failed threshold, judged on the merged numbers as a local run's are).

The coordinator (``molotov ... --agents``/``--pods``): 3 the run went on but an agent was lost
mid-run (the result is partial); 4 aborted before any load (an agent never ready, refused the
start, wrong version, setup failed); 5 objects of the run still exist after the end. The agent
process (``molotov --agent``): 6 when it cannot load its scenario or its options are invalid
(a Kubernetes Job's podFailurePolicy fails the Job at once on it).

When several apply, the first of 5, 4, 3, 1, 99 wins (see the README's table): 3 judges
partial numbers, 1 a run that broke, so neither leaves the verdict to the thresholds.
"""

EXIT_PARTIAL = 3
EXIT_NOT_STARTED = 4
EXIT_LEFTOVERS = 5
AGENT_EXIT_SETUP = 6
