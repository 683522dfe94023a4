"""One SSL context per process for every provider client (issue 15), with certificates still verified:
a server whose certificate no trusted authority signed is refused, the same server is answered
once its certificate is trusted."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading

import httpx
import pytest

from crawl_pipeline.settings import Secret
from crawl_pipeline.sources.accounting import RequestAccounting
from crawl_pipeline.sources.errors import ConnectionFailed
from crawl_pipeline.sources.http import ProviderHTTP, RetryPolicy, tls_context
from crawl_pipeline.sources.ratelimit import RateTier
from crawl_pipeline.sources.tokens import Credential, CredentialPool


def _provider(base_url: str) -> ProviderHTTP:
    pool = CredentialPool("p", [Credential.of(Secret("token-0123456789"), "key", 1)])
    return ProviderHTTP("p", base_url, pool, tier=RateTier.of("t", per_second=1000), rate_group="api", limiter=None,
                        accounting=RequestAccounting(None), retry=RetryPolicy(max_retries=0))


def _pool_context(provider: ProviderHTTP) -> ssl.SSLContext:
    return provider._client._transport._pool._ssl_context  # httpx 0.28 / httpcore 1.x


@pytest.fixture
def self_signed_server(tmp_path):
    """(https URL on 127.0.0.1, certificate file) of a server with a self-signed certificate."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "11")
            self.end_headers()
            self.wfile.write(b'{"ok":true}')

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()


def test_provider_clients_share_one_verifying_context():
    first, second = _provider("https://one.test"), _provider("https://two.test")
    try:
        assert _pool_context(first) is _pool_context(second) is tls_context()
        assert tls_context().verify_mode == ssl.CERT_REQUIRED and tls_context().check_hostname
    finally:
        first.close()
        second.close()


def test_untrusted_certificate_is_refused_and_trusted_one_answered(self_signed_server):
    url, cert = self_signed_server
    provider = _provider(url)
    try:
        with pytest.raises(ConnectionFailed, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            provider.call("e", "/ok", lambda payload: payload)
    finally:
        provider.close()
    with httpx.Client(verify=ssl.create_default_context(cafile=str(cert))) as trusting:
        assert trusting.get(url + "/ok").json() == {"ok": True}  # the same server, its certificate trusted
