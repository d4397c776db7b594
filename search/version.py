"""The installed distribution's version (a source tree never installed says so)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tinynas")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+local"
