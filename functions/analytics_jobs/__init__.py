"""Async analytics' job code, shared by the entry points of one container image
(``functions/analytics_job``: ``app.handler``, ``app.run_job`` and ``task.py``).

The contract with the service (``components/services/async_analytics.py``):

- **Environment** (every entry point): ``INPUT_BUCKET`` (the clients' CSVs, under
  ``uploads/``), ``RESULT_BUCKET`` (``results/<jobId>.json``), ``JOBS_TABLE`` (partition key
  ``jobId``, a string), ``JOB_RETENTION_DAYS`` (1 to 365, default 30: the records' TTL
  ``expiresAt``); ``STATE_MACHINE_ARN`` for the queue's consumer.
- **The request** (``job_request``): ``{"jobId", "inputKey", "analysis", "parameters",
  "submittedAt"}``, validated field by field; every problem named with what is allowed.
- **The input** (``table``): a UTF-8 CSV with a header, its numeric columns read with numpy.
- **The analyses** (``analyses``): ``kmeans``, ``linearRegression``, ``pca`` with
  scikit-learn.
- **A run** (``runner``): input in, result out, the answer the workflow records.
- **The records** (``records``): the consumer's first record of a job, and the outcome an
  Express workflow's task records itself.

A job that can never succeed (a bad request, a missing or bad input, parameters the data does
not allow) raises ``JobFailed`` (from ``blueprints_common.entry``), whose class name the
workflow catches and whose message it records: a message names fields, limits and at most a
column name, never a value from the input.
"""

from blueprints_common.entry import JobFailed

from analytics_jobs.job_request import JobRequest, parse_request

__all__ = ["JobFailed", "JobRequest", "parse_request"]
