"""Patterns of AWS names that handlers check in events and settings, in ASCII only: ``\\d`` and
``\\w`` would accept any Unicode digit or letter (Arabic-Indic digits, fullwidth letters)."""

from __future__ import annotations

import re

REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
# An S3 event's sequencer: S3's order of the events on one key.
SEQUENCER = re.compile(r"[0-9A-Fa-f]{1,64}")
