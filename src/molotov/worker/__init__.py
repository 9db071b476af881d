"""One worker process: its pool of workers, arrivals and stages, sessions, errors, events."""
