"""pextlab: a laboratory for Linux physical-memory bookkeeping."""
__version__ = "0.1.0"
