"""The outbound guard: which addresses count as public, and connecting only to the address that
was checked (one resolution, the socket to that address, Host, SNI and certificate on the name)."""

import datetime
import ipaddress
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import urllib3.util.connection
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gitint.providers import http
from gitint.providers.base import BlockedHost, Unavailable
from gitint.providers.http import PinnedAdapter, Transport, check_base_url, is_public

NAME = "git.example.com"
PUBLIC = "140.82.112.3"

# ---------------------------------------------------------------- which addresses are public

REFUSED = [
    # IPv4 that is not global
    ("127.0.0.1", "loopback"),
    ("10.0.0.1", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "shared address space"),
    ("169.254.169.254", "metadata"),
    ("0.0.0.0", "this network"),  # noqa: S104 - an address to refuse, not a bind
    ("224.0.0.1", "multicast"),
    ("255.255.255.255", "broadcast"),
    # IPv6 that is not global
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fd00::1", "unique local"),
    ("fd00:ec2::254", "metadata"),
    ("ff0e::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation (RFC 9637)"),
    ("fec0::1", "site-local"),
    ("fec0::808:808", "site-local"),
    # IPv6 forms carrying a non-global IPv4
    ("::ffff:10.0.0.1", "IPv4-mapped private"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
    ("::ffff:169.254.169.254", "IPv4-mapped metadata"),
    ("::10.0.0.1", "IPv4-compatible private"),
    ("::127.0.0.1", "IPv4-compatible loopback"),
    ("::169.254.169.254", "IPv4-compatible metadata"),
    ("::ffff:0:10.0.0.1", "IPv4-translated private"),
    ("::ffff:0:127.0.0.1", "IPv4-translated loopback"),
    ("64:ff9b::10.0.0.1", "NAT64 private"),
    ("64:ff9b::127.0.0.1", "NAT64 loopback"),
    ("64:ff9b::169.254.169.254", "NAT64 metadata"),
    ("64:ff9b::100.64.0.1", "NAT64 shared address space"),
    ("64:ff9b:1::a00:1", "local-use NAT64"),
    ("64:ff9b:1::808:808", "local-use NAT64, whatever it carries"),
    ("2002:a00:1::", "6to4 of 10.0.0.1"),
    ("2002:7f00:1::1", "6to4 of 127.0.0.1"),
    ("2002:a9fe:a9fe::", "6to4 of the metadata address"),
    ("2002:808:808::", "6to4, whatever it carries"),
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo, client 10.0.0.1"),
    ("2001:0:a00:1::", "Teredo, server 10.0.0.1"),
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "Teredo, public client"),
]
ALLOWED = [
    (PUBLIC, "GitHub"),
    ("8.8.8.8", "public IPv4"),
    ("2606:4700:4700::1111", "public IPv6"),
    ("2a00:1450:4001:82a::200e", "public IPv6"),
    ("::ffff:140.82.112.3", "IPv4-mapped public"),
    ("::8.8.8.8", "IPv4-compatible public"),
    ("::ffff:0:8.8.8.8", "IPv4-translated public"),
    ("64:ff9b::8.8.8.8", "NAT64 public"),
]


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_refused_addresses(address, why):
    """Is each address that is not global, or that carries one, refused?"""
    assert not is_public(ipaddress.ip_address(address)), why


@pytest.mark.parametrize(("address", "why"), ALLOWED)
def test_public_addresses(address, why):
    """Is each public address, in any form that carries a public IPv4, allowed?"""
    assert is_public(ipaddress.ip_address(address)), why


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_refused_address_literals_in_a_base_url(address, why):
    """Is a base URL that names a refused address directly refused before any request?"""
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(BlockedHost, match="private or reserved"):
        check_base_url(f"https://{host}/", allow_private=False)


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_names_resolving_to_refused_addresses(monkeypatch, sockets, address, why):
    """Is a name resolving to a refused address refused when connecting, no socket opened?"""
    monkeypatch.setattr(http, "resolve", Resolver(address))
    with pytest.raises(BlockedHost, match=f"{NAME} resolves to a private or reserved"):
        Transport(f"https://{NAME}", {}).request("GET", "/")
    assert sockets == []


def test_one_refused_address_among_public_ones_refuses_the_name(monkeypatch, sockets):
    """Is a name with a public and a private address refused (the connection could use either)?"""
    monkeypatch.setattr(http, "resolve", lambda host, port, **kw: [info(PUBLIC), info("10.0.0.1")])
    with pytest.raises(BlockedHost):
        Transport(f"https://{NAME}", {}).request("GET", "/")
    assert sockets == []


def test_unresolvable_name_is_unavailable(monkeypatch, sockets):
    """Does a name that does not resolve end in a sentence naming it?"""

    def fail(host, port, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(http, "resolve", fail)
    with pytest.raises(Unavailable, match=f"The host name {NAME} could not be resolved"):
        Transport(f"https://{NAME}", {}).request("GET", "/")


def test_every_checked_address_is_tried_in_order(monkeypatch, sockets):
    """When the first address refuses the connection, is the next checked one tried (and no
    other)?"""
    monkeypatch.setattr(
        http, "resolve", lambda host, port, **kw: [info("2606:4700::1"), info(PUBLIC)]
    )
    with pytest.raises(Unavailable, match="could not be reached"):
        Transport(f"https://{NAME}", {}).request("GET", "/")
    assert sockets == [("2606:4700::1", 443), (PUBLIC, 443)]


def test_private_hosts_allowed_means_no_pinning():
    """With GITINT_ALLOW_PRIVATE_HOSTS, is the plain adapter used (dev and tests on 127.0.0.1),
    and otherwise the pinned one?"""
    url = f"https://{NAME}/user"
    assert isinstance(http.session_for(url).get_adapter(url), PinnedAdapter)
    assert not isinstance(http.session_for(url, True).get_adapter(url), PinnedAdapter)
    assert isinstance(http.session_for(f"http://{NAME}/").get_adapter("http://x/"), PinnedAdapter)


# ---------------------------------------------------------------- DNS rebinding, over real TLS


def info(address: str, port: int = 443):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))


class Resolver:
    """Answers the n-th call with the n-th address (the last one repeats); keeps the calls."""

    def __init__(self, *answers: str):
        self.answers, self.calls = answers, []

    def __call__(self, host, port, **kwargs):
        self.calls.append(host)
        return [info(self.answers[min(len(self.calls), len(self.answers)) - 1], port)]


def certificates(directory, name: str):
    """A CA and a server certificate for ``name`` (DNS only, no IP) → (ca.pem, chain, key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gitint test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = [directory / "ca.pem", directory / "chain.pem", directory / "key.pem"]
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@pytest.fixture
def tls_host(tmp_path, monkeypatch):
    """An HTTPS server on 127.0.0.1 with a certificate for ``name`` only, reached through the
    socket layer: a connection to any address lands there, and the address asked is kept."""

    def start(name=NAME):
        ca, chain, key = certificates(tmp_path, name)
        seen = {"sni": [], "host": [], "opened": []}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def do_GET(self):
                seen["host"].append(self.headers["Host"])
                body = b'{"login": "octocat"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain, key)
        context.sni_callback = lambda sock, server_name, ctx: seen["sni"].append(server_name)
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        real = urllib3.util.connection.create_connection

        def create_connection(address, *args, **kwargs):
            seen["opened"].append(address)
            return real(("127.0.0.1", server.server_port), *args, **kwargs)

        monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
        http.session_for(f"https://{NAME}").verify = str(ca)
        started.append(server)
        return seen

    started = []
    yield start
    for server in started:
        server.shutdown()
        server.server_close()
    for session in http._sessions.values():
        session.close()


def test_rebinding_resolver_cannot_redirect_the_request(tls_host, monkeypatch):
    """The resolver answers a public address first and 127.0.0.1 after: does the request go to
    the first, with one resolution, and Host, SNI and the certificate checked on the name?"""
    seen = tls_host()
    resolver = Resolver(PUBLIC, "127.0.0.1")
    monkeypatch.setattr(http, "resolve", resolver)
    assert Transport(f"https://{NAME}", {}).get_json("/user") == {"login": "octocat"}
    assert resolver.calls == [NAME]
    assert seen["opened"] == [(PUBLIC, 443)]
    assert seen["sni"] == [NAME] and seen["host"] == [NAME]


def test_kept_alive_connection_is_reused_without_resolving_again(tls_host, monkeypatch):
    """Is the second request sent on the same kept-alive connection, with no new resolution?
    And once that connection is gone, is the next one checked again (and refused)?"""
    seen = tls_host()
    resolver = Resolver(PUBLIC, "127.0.0.1")
    monkeypatch.setattr(http, "resolve", resolver)
    transport = Transport(f"https://{NAME}", {})
    transport.get_json("/user")
    transport.get_json("/user")
    assert resolver.calls == [NAME] and seen["opened"] == [(PUBLIC, 443)]
    assert seen["host"] == [NAME, NAME] and http.connections_opened() == 1
    http.session_for(f"https://{NAME}").close()  # the kept-alive connection is gone
    with pytest.raises(BlockedHost):
        transport.get_json("/user")
    assert resolver.calls == [NAME, NAME] and seen["opened"] == [(PUBLIC, 443)]


def test_certificate_is_checked_against_the_name(tls_host, monkeypatch):
    """A certificate for another name, at the checked address: is the request refused?"""
    seen = tls_host(name="other.example.com")
    monkeypatch.setattr(http, "resolve", Resolver(PUBLIC))
    with pytest.raises(Unavailable, match="could not be reached"):
        Transport(f"https://{NAME}", {}).get_json("/user")
    assert seen["opened"] == [(PUBLIC, 443)] and seen["host"] == []
