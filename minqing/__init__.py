"""minqing (民情): complaint-governance data platform for a Beijing street."""

__version__ = "0.1.0"
