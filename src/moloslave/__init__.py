"""moloslave: run a molotov load test straight from a git repository (see its CLI)."""
