"""Cache-aside over Valkey for the microservice cache's functions (``MicroserviceCache``).

- ``settings``: where the cache is and how to reach it, from the function's environment.
- ``auth``: ElastiCache IAM authentication: a SigV4-presigned ``connect`` request for the
  cache's user, used as the password, renewed before it expires.
- ``cache``: ``Cache``, a Valkey client behind a circuit breaker. Reads and writes answer
  ``None``/``False`` instead of raising when the cache is down, and after a failure the cache
  is skipped for ``CACHE_BREAKER_SECONDS``: a cache outage slows the service (every read goes
  to DynamoDB) and never fails it. ``Cache.read`` is the cache-aside read: the cache, else the
  loader, whose answer is cached with a TTL (every object has one).
- ``keys``: the key of each cached object, and the events that name them.
- ``answers``: what the HTTP functions answer alike: JSON, ``X-Cache`` and its metric, refusals,
  and a 503 when DynamoDB fails.

Third-party libraries come from a layer (``valkey``); no AWS client is made here: the
handlers hand theirs in.
"""
