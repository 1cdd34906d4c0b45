"""Outbound HTTP to addresses that banks type in (webhooks), kept off the platform's own network.

A bank admin chooses the webhook URL, so without a policy the workers would POST wherever it
points: the cloud metadata service, Redis on localhost, the office's intranet (SSRF). Unless
WEBHOOK_ALLOW_PRIVATE_NETWORKS is set (development, tests), only globally routable addresses are
reached:
- at configuration time, an IP literal or a local host name (localhost, *.local, *.internal)
  that is not public is refused with a message;
- at delivery time the host name is resolved once, every address it resolves to must be public,
  and the socket connects to exactly the address that was checked (no second lookup that DNS
  rebinding could answer differently). Redirects are not followed: a 3xx is a failed attempt.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.request

from flask import current_app

LOCAL_NAMES = ("localhost", "localhost.localdomain")
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".intranet", ".lan", ".home.arpa")


class PrivateAddress(OSError):
    """The webhook's host is (or resolves to) an address the platform does not call."""


def private_allowed() -> bool:
    return bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE_NETWORKS"))


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def host_problem(host: str) -> str | None:
    """Why a host typed into a webhook URL is refused, judged without DNS (None: fine)."""
    if private_allowed():
        return None
    name = host.strip("[]").rstrip(".").lower()
    try:
        public = is_public(name)
    except ValueError:  # a name, not an address
        if name in LOCAL_NAMES or name.endswith(LOCAL_SUFFIXES) or "." not in name:
            return "Webhook 地址不能指向本机或内网主机名，请使用公网可访问的域名"
        return None
    if not public:
        return "Webhook 地址不能指向本机、内网或保留的 IP 地址，请使用公网地址"
    return None


def _public_socket(address: tuple[str, int], timeout, source_address=None) -> socket.socket:
    """socket.create_connection, but every resolved address must be public and the one
    connected to is the one checked."""
    host, port = address
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not private_allowed():
        refused = [info[4][0] for info in infos if not is_public(info[4][0])]
        if refused:
            raise PrivateAddress(f"{host} 解析到内网或保留地址 {refused[0]}，平台不向其发送")
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    raise error or OSError(f"{host} 无可用地址")


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _public_socket


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    # TLS is wrapped around the checked socket; certificate and SNI still use the host name.
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _public_socket


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_GuardedHTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_GuardedHTTPSConnection, req, context=self._context)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 3xx becomes an HTTPError: a failed attempt, logged with its code


_opener = urllib.request.build_opener(_HTTPHandler, _HTTPSHandler, _NoRedirects)


def post(request: urllib.request.Request, timeout: float):
    """Open `request` (http or https only) under the policy above."""
    if request.type not in ("http", "https"):
        raise ValueError("Webhook 地址必须以 http:// 或 https:// 开头")
    return _opener.open(request, timeout=timeout)
