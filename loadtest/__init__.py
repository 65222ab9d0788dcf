"""The load-test kit: steady-rate and burst load against any API of a stack, in local mode on
127.0.0.1 or deployed, with API keys, SigV4 or JWTs; p50/p95/p99 latency, throughput and the
429s; and a check that the stage and usage-plan throttles held (``loadtest.check``).

Locust generates the load, in a process of its own (``loadtest.runner``): its gevent patching
must not reach the plan's Pulumi runtime or local mode's threads. Nothing in this package but
that module imports Locust.
"""
