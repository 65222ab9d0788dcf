"""Local mode: run a stack's services on this machine, wired exactly as the offline plan
declares them (``python -m tools.local``; README, "Local mode").

- ``stack``: ``LocalStack`` starts the parts below in order and stops them in reverse; the CLI
  (``__main__``) prints what runs where.
- ``aws``: the embedded AWS (moto's server) holding the plan's stateful resources.
- ``lambdas``, ``functions``, ``worker``, ``boot``: each function's real handler in a worker
  process with its role's credentials, invoked synchronously or asynchronously (retries and
  on-failure destinations), every AWS call checked by ``iam`` against the plan's policies.
- The fronts, each on its own port, sharing ``gateway`` (server, SigV4, throttling):
  ``rest_api`` (with ``vtl``), ``http_api`` (with ``tokens``), ``cloudfront`` and
  ``object_lambda``.
- ``events``: S3 notifications, SQS and DynamoDB stream mappings, EventBridge rules and
  schedules.
"""
