"""Fetching media from URLs: which addresses may be reached, one deadline, no leaked secrets.

An image or audio URL comes from data (a document, a user's query), so it is untrusted:

- Only ``http``/``https``. The host's every address, resolved here and again on each redirect
  (redirects are followed one by one), must be public: loopback, private, link-local, shared,
  multicast, reserved and unspecified addresses are refused unless the caller allows them
  (``allow_private=True`` or ``MSEARCH_ALLOW_PRIVATE_URLS=1``), so a URL cannot make msearch
  reach services on the machine or its network (SSRF).
- One overall deadline for the whole fetch, redirects included: a watchdog closes the
  connection when it passes, so a server dripping headers cannot hold the call.
- URLs in errors show scheme, host, port and path only: never ``user:password@`` nor the query
  string or fragment (signed-URL tokens live there).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
import urllib.parse

import httpx

from msearch.errors import MediaError

#: Seconds a whole URL fetch may take, redirects included.
URL_TIMEOUT_S = 10.0
#: The largest image or clip a URL may return.
URL_MAX_BYTES = 32 * 1024 * 1024
#: Redirects followed before a URL is refused.
URL_MAX_REDIRECTS = 5
#: Set to 1 to let URLs reach loopback and private addresses (a trusted local media server).
ALLOW_PRIVATE_ENV = "MSEARCH_ALLOW_PRIVATE_URLS"


def shown(url: str) -> str:
    """``url`` as errors and logs show it: no credentials, no query string, no fragment."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<an unparsable URL>"
    if ":" in host:
        host = f"[{host}]"
    hidden = " (query hidden)" if parts.query or parts.fragment else ""
    return f"{parts.scheme}://{host}{port}{parts.path}{hidden}"


def fetch_url(
    url: str,
    *,
    timeout: float = URL_TIMEOUT_S,
    max_bytes: int = URL_MAX_BYTES,
    max_redirects: int = URL_MAX_REDIRECTS,
    allow_private: bool | None = None,
) -> bytes:
    """Download ``url`` within ``timeout`` seconds overall and at most ``max_bytes``."""
    if allow_private is None:
        allow_private = os.environ.get(ALLOW_PRIVATE_ENV, "") not in ("", "0")
    deadline = time.monotonic() + timeout
    client = httpx.Client(follow_redirects=False, timeout=timeout)
    watchdog = threading.Timer(timeout, client.close)  # ends a read that outlives the deadline
    watchdog.daemon = True
    watchdog.start()
    try:
        for _ in range(max_redirects + 1):
            _check_address(url, allow_private)
            with client.stream("GET", url) as response:
                if response.is_redirect:
                    url = str(response.url.join(response.headers["location"]))
                    continue
                response.raise_for_status()
                return _body(response, url, max_bytes, deadline, timeout)
        raise MediaError(f"{shown(url)} redirected more than {max_redirects} times")
    except httpx.TimeoutException as err:
        raise MediaError(f"{shown(url)} did not answer within {timeout:g} s") from err
    except httpx.HTTPStatusError as err:
        raise MediaError(f"{shown(url)} answered HTTP {err.response.status_code}") from err
    except (httpx.HTTPError, RuntimeError) as err:  # RuntimeError: the watchdog closed it
        if time.monotonic() >= deadline:
            raise MediaError(f"{shown(url)} did not answer within {timeout:g} s") from err
        raise MediaError(f"{shown(url)} could not be fetched: {type(err).__name__}") from err
    finally:
        watchdog.cancel()
        client.close()


def _body(
    response: httpx.Response, url: str, max_bytes: int, deadline: float, timeout: float
) -> bytes:
    declared = int(response.headers.get("content-length") or 0)
    if declared > max_bytes:
        raise MediaError(f"{shown(url)} is {declared} B, larger than the {max_bytes} B limit")
    data = bytearray()
    for chunk in response.iter_bytes():
        data.extend(chunk)
        if len(data) > max_bytes:
            raise MediaError(f"{shown(url)} is larger than the {max_bytes} B limit")
        if time.monotonic() > deadline:
            raise MediaError(f"{shown(url)} did not finish downloading within {timeout:g} s")
    return bytes(data)


def _check_address(url: str, allow_private: bool) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MediaError(f"{shown(url)}: only http(s) URLs with a host are fetched")
    if allow_private:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as err:
        raise MediaError(f"{shown(url)}: the host could not be resolved") from err
    for *_, address in found:
        ip = ipaddress.ip_address(address[0])
        if not ip.is_global or ip.is_multicast:
            raise MediaError(
                f"{shown(url)} resolves to {ip}, a loopback, private or reserved address; "
                f"msearch fetches only public addresses unless {ALLOW_PRIVATE_ENV}=1 (or "
                "allow_private=True) allows more"
            )
