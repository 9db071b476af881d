"""RunConfig, the one value a run is built from, with its bounds, parsers and molotov.json."""
