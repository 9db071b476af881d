"""``python -m molotov`` is the ``molotov`` command."""

from molotov.cli import main

main()
