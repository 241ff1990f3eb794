"""Listing compliance scanner."""
from importlib import metadata

try:
    # the code's release: a sweep rescans unchanged listings when it changes (normalisation and
    # detectors decide verdicts as much as the rulesets and models do)
    ENGINE_VERSION = metadata.version("listing-compliance-scanner")
except metadata.PackageNotFoundError:   # run from a source tree that was never installed
    ENGINE_VERSION = "source"


def __getattr__(name):
    # `from scanner import Scanner` without importing the engine for every submodule
    if name == "Scanner":
        from scanner.engine import Scanner
        return Scanner
    raise AttributeError(name)


__all__ = ["ENGINE_VERSION", "Scanner"]
