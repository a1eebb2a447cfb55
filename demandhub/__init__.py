"""demandhub: the application shell (settings, CLI, embedded stack, live web, board pack)."""

__version__ = "0.1.0"
