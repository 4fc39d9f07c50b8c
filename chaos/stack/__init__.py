"""The native stack: declared services, started and watched by one manager."""
