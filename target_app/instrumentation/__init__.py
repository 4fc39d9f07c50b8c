"""What the shop measures about itself: metrics, traces, JSON logs, the hub monitor.

Each module is imported where it is used; this package imports nothing, so an
entry point can let gevent patch the standard library and install the buffered
metric values (buffered_values) before any metric exists.
"""
