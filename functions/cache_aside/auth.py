"""ElastiCache IAM authentication for Valkey.

The password of an IAM-enabled ElastiCache user is a SigV4-presigned ``GET`` of
``http://<cache name>/?Action=connect&User=<user id>`` (plus ``ResourceType=ServerlessCache``
for a serverless cache), signed for the ``elasticache`` service in the cache's region, without
its ``http://``. It is valid for 15 minutes, and is checked when a connection authenticates:
a connection stays open after its token expires (ElastiCache closes it after 12 hours).
The role needs ``elasticache:Connect`` on the cache and on the user.

``IamCredentialProvider`` hands Valkey a fresh token for each new connection, signed at most
``RENEW_AFTER_SECONDS`` before; signing is local (no AWS call).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from botocore.auth import SigV4QueryAuth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import ReadOnlyCredentials  # type: ignore[import-untyped]
from valkey.credentials import CredentialProvider

TOKEN_SECONDS = 900  # what ElastiCache accepts at most
RENEW_AFTER_SECONDS = 600


def iam_auth_token(cache_name: str, user_id: str, region: str,
                   credentials: ReadOnlyCredentials, *, serverless: bool = True) -> str:
    """The IAM authentication token for ``user_id`` on ``cache_name``."""
    query = {"Action": "connect", "User": user_id}
    if serverless:
        query["ResourceType"] = "ServerlessCache"
    request = AWSRequest(method="GET", url=f"http://{cache_name}/?{urlencode(query)}")
    SigV4QueryAuth(credentials, "elasticache", region, expires=TOKEN_SECONDS).add_auth(request)
    return str(request.url).removeprefix("http://")


class IamCredentialProvider(CredentialProvider):
    """(user, token) for each new Valkey connection; ``credentials`` answers the role's
    current credentials (they rotate on Lambda)."""

    def __init__(self, cache_name: str, user_id: str, region: str,
                 credentials: Callable[[], ReadOnlyCredentials],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cache_name = cache_name
        self.user_id = user_id
        self.region = region
        self._credentials = credentials
        self._clock = clock
        self._token: tuple[float, str] | None = None

    def get_credentials(self) -> tuple[str, str]:
        now = self._clock()
        if self._token is None or now - self._token[0] >= RENEW_AFTER_SECONDS:
            self._token = (now, iam_auth_token(self.cache_name, self.user_id, self.region,
                                               self._credentials()))
        return self.user_id, self._token[1]
