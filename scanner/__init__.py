"""Listing compliance scanner."""


def __getattr__(name):
    # `from scanner import Scanner` without importing the engine for every submodule
    if name == "Scanner":
        from scanner.engine import Scanner
        return Scanner
    raise AttributeError(name)


__all__ = ["Scanner"]
