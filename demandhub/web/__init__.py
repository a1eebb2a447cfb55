"""The hub's web server: live page, live JSON API, analyst SQL, Prometheus metrics."""
