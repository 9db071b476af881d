"""What consumes snapshots while the run goes on: the console and the StatsD emitter."""
