"""Review: Grafana dashboards, HTML report, phone page."""
