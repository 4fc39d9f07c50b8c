"""The console: the native stack's dashboards live in a browser (`faultyard up` serves it)."""
