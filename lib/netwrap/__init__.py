"""netwrap: plumb network interfaces into running containers by hand, and explain it."""

__version__ = "0.1.0"
