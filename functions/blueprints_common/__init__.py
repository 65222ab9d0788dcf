"""Code shared by the project's Lambda functions.

The function block packages this folder into every function's deployment package, next to the
handler, so a handler imports it as ``blueprints_common``. Only code that two or more handlers
use belongs here; third-party libraries come from layers.

- ``entry``: the decorator every ``handler`` goes through. It applies Powertools' logger
  (with ``log_event`` forced off: no handler logs a raw event), tracer and metrics, and checks
  the event's outer shape for the handler's kind (REST proxy, HTTP API, REST REQUEST
  authorizer, S3 notification, CloudFront origin request), answering a malformed event with
  the kind's refusal. Also ``rest_resolver`` and ``http_resolver``: Powertools' API Gateway
  resolvers with their debug mode (which prints events) off.
- ``safe_json``: JSON from a client, parsed so that no body can fail the handler (deep
  nesting, ``NaN``, over-long integers are one ``InvalidJsonError``, a ``ValueError``).
- ``cors``: the response side of CORS for REST proxy integrations (a Powertools ``CORSConfig``
  from an origin allow-list, and the same decision as a plain function).
- ``environment``: a function's settings from its environment, every problem reported at once.
- ``names``: the patterns of AWS names handlers check (regions, S3 sequencers), ASCII only.
- ``idempotency``: Powertools' idempotency (DynamoDB persistence, payload validation, expiry)
  for the routes that create something: the ``Idempotency-Key`` header, a guard that answers a
  retry with the first answer, and the 422, 409 and 503 answers to its errors.
"""
