"""The parent process: from RunConfig to forked processes, their watch, and the exit code."""
