"""Smoke tests: one real, cheap request per service of a stack, built from the stack's outputs.

They carry the ``smoke`` marker and are skipped unless a target is given, so the unit suite never
sends them anywhere. Against a deployed stack (credentials from the environment, as botocore
finds them; API key values from the ``--show-secrets`` outputs)::

    pulumi stack output --json --show-secrets --stack dev > outputs.json
    venv/bin/python -m pytest tests/smoke --smoke-outputs outputs.json

(or ``BLUEPRINTS_SMOKE_OUTPUTS=outputs.json venv/bin/python -m pytest tests/smoke``; the variable
works from any test path, the option only when ``tests/smoke`` is the path given). A service the
outputs do not hold is skipped. privateApi answers only inside its VPC: run the smoke tests there
(a CodeBuild project in the VPC), or set ``BLUEPRINTS_SMOKE_OUTSIDE_VPC=1`` and its check asks for
the refusal a client outside gets (the delivery pipeline's builds do).

In local mode the same checks run against the stack that ``tools.local`` serves:
``tests/local/e2e/test_smoke.py`` runs every one of them against the dev stack.
"""
