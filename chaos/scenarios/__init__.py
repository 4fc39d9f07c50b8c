"""Scenarios: the format a scenario module declares (`model`) and the catalogue that finds them."""
