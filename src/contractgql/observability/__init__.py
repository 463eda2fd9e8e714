"""Operating the service: request ids, log formats, metrics and health checks."""
