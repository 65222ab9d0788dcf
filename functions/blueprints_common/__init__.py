"""Code shared by the project's Lambda functions.

The function block packages this folder into every function's deployment package, next to the
handler, so a handler imports it as ``blueprints_common``. Only code that two or more handlers
use belongs here; third-party libraries come from layers.

- ``safe_json``: JSON from a client, parsed so that no body can fail the handler (deep
  nesting, ``NaN``, over-long integers are one ``InvalidJsonError``, a ``ValueError``).
- ``cors``: the response side of CORS for REST proxy integrations (a Powertools ``CORSConfig``
  from an origin allow-list, and the same decision as a plain function).
"""
