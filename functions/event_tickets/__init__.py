"""Event management's shared library: the QR ticket token, the table keys, and the QR drawing.

The event API, the notifier and the reminder Lambdas package this folder at their root
(imported as ``event_tickets``). Nothing here reads the environment or creates a client: the
handlers pass their KMS client and key in.

- ``tokens``: ``make_token(kms, key_id, ...)`` signs a registration into
  ``EVT1.<payload b64url>.<mac b64url>`` with KMS ``GenerateMac`` (HMAC_SHA_256);
  ``read_token(kms, key_id, token, now)`` checks it with ``VerifyMac`` and answers a
  ``Ticket``, or raises ``InvalidTicketError`` without saying which part failed.
- ``keys``: the single-table keys of events, sessions and registrations, the requests table's
  keys, the two indexes, the identifier patterns and the timestamp format.
- ``qr``: a token drawn as an inline SVG QR code (PyPI's ``segno``, from the function's layer).
- ``kinds``: the ``blueprints_common.entry`` event kinds of a DynamoDB stream and of an
  EventBridge Scheduler invocation (kept here until ``blueprints_common.entry`` has them).
"""
