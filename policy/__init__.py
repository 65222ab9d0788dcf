"""The guardrails policy pack; ``policy/__main__.py`` serves it, ``policy.guardrails`` holds it."""
