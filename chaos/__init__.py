"""Faultyard's fault-injection library and CLI: the native stack, faults, probes and runs."""
