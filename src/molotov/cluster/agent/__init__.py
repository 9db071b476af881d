"""The agent: ``molotov --agent --listen HOST:PORT SCENARIO`` (see :mod:`.main`)."""
