"""One blueprint per area of the shop."""
