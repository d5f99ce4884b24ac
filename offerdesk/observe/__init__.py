"""Seeing Offerdesk run: logs (text or JSON lines), OpenTelemetry traces, and Prometheus endpoints.

- logs.py: OFFERDESK_LOG_FORMAT=json turns every process's log into one JSON object per line, each naming the
  round, partner, workflow and trace it is about where known;
- tracing.py: traces when the standard OTEL_* variables ask for them (the Temporal SDK's TracingInterceptor,
  its update and letter spans joined to the request that caused them, the render process's span);
- endpoint.py: a /metrics endpoint on a port of its own, serving a registry of Offerdesk's metrics beside the
  Temporal SDK's (activities/metrics.py for the worker's, offerdesk/portal/metrics.py for the portal's).

Nothing here is imported by the activities (they know neither `offerdesk` nor how they are observed), so the
worker passes the render processes their setup as a function to call (activities.offer_activities).
"""
