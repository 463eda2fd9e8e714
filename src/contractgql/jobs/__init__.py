"""Background jobs: the reminder scans, the arq worker and the in-process scheduler.

`scans` does the work, `worker` runs it in arq workers that take their jobs from
Redis, and `scheduler` runs it inside the API process when no Redis is configured.
"""
