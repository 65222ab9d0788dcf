"""Local mode: run a stack's services on this machine, wired exactly as the offline plan
declares them (issue 12). The plan's stateful resources are created in an embedded moto server,
every function runs its real handler with the plan's environment, APIs and event sources are
served as declared, and every AWS call is checked against the caller's policies in the plan
(``tools.local.iam``)."""
