"""The gunicorn entry point: gevent patches the standard library before the shop is imported."""

from gevent import monkey

monkey.patch_all()

from target_app.instrumentation import buffered_values  # noqa: E402

# Before the shop's metrics exist: a worker's increments come at request rate.
buffered_values.install()

from target_app import create_app  # noqa: E402
from target_app.config import load_settings  # noqa: E402
from target_app.instrumentation.logs import configure_logging  # noqa: E402

# Access lines come at request rate too: written in batches, as the metric increments are.
configure_logging(service="shop", level=load_settings().log_level, defer_lines=True)
app = create_app()
