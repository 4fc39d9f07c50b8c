"""Drills: a hidden fault from the catalogue (or none), a page, and a graded answer."""
