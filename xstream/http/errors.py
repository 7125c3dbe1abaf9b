"""The one classification of transport failures (no HTTP status) into ``xstream.errors``.

What matters for a retry is whether the request could have reached the server:

- never reached (connection refused, DNS, connect timeout) -> :class:`SinkUnavailable`: nothing
  happened, sending again is safe;
- sent, the answer never came (read timeout, reset, disconnect, a cut body) -> :class:`AnswerLost`,
  a retriable SinkUnavailable: the server may have acted. Callers that cannot de-duplicate decide
  whether to send again (a chat message); the others look before they act again (OpenText) or
  carry an Idempotency-Key (records APIs).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import aiohttp

from xstream.errors import AnswerLost, SinkRejected, SinkUnavailable


@asynccontextmanager
async def transport_errors(target: str, operation: str, *, secret_url: str | None = None) -> AsyncIterator[None]:
    """Timeouts and connection failures are retriable: the server may be restarting or overloaded.

    ``secret_url``: a URL that holds a credential (an incoming webhook); it never appears in the
    error, which is logged and published in status events.
    """
    try:
        yield
    except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError) as exc:  # never reached the server
        raise SinkUnavailable(redact(f"{operation}: {type(exc).__name__}: {exc}", secret_url), target=target) from exc
    except TimeoutError as exc:
        raise AnswerLost(f"{operation}: timed out waiting for the answer", target=target) from exc
    except aiohttp.InvalidURL as exc:  # the message is the URL itself; it will not get better
        raise SinkRejected(f"{operation}: the URL is not valid", target=target) from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientPayloadError,
            aiohttp.SocketTimeoutError) as exc:
        raise AnswerLost(redact(f"{operation}: the answer was lost: {type(exc).__name__}: {exc}", secret_url),
                         target=target) from exc
    except aiohttp.ClientError as exc:
        raise SinkUnavailable(redact(f"{operation}: {type(exc).__name__}: {exc}", secret_url),
                              target=target) from exc


def redact(text: str, secret_url: str | None) -> str:
    """``text`` without ``secret_url`` or its path (where the credential of an incoming webhook is)."""
    if not secret_url:
        return text
    path = urlsplit(secret_url).path
    text = text.replace(secret_url, "<secret URL>")
    return text.replace(path, "/<secret>") if len(path) > 1 else text
