"""The Faultyard exporter: what no standard exporter gives, for Prometheus (job="faultyard").

Process CPU and RSS per service, the active faults (toxics, disabled proxies,
bug switches), and the shop's business invariants. Run `python -m chaos.exporter`;
the stack starts it as the service "exporter".
"""
