"""`lbconsole serve`: one poller per site, many read-only viewers, Prometheus metrics.

Data flows poller -> hub (latest snapshot, encoded once) -> HTTP (/snapshot, /events,
/metrics, /healthz, /web). Nothing here runs an action.
"""
