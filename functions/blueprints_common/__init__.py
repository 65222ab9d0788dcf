"""Code shared by the project's Lambda functions.

The function block packages this folder into every function's deployment package, next to the
handler, so a handler imports it as ``blueprints_common``. Only code that two or more handlers
use belongs here; third-party libraries come from layers.

- ``cors``: the response side of CORS for REST proxy integrations (a Powertools ``CORSConfig``
  from an origin allow-list, and the same decision as a plain function).
"""
