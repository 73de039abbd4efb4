"""secureClientPort with ZooKeeper's ssl.* keys and a JKS key store, used by kazoo over TLS."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import jks
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kazoo.client import KazooClient

from tests.support.servers import ZkpyServer, free_port

pytestmark = pytest.mark.interop


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer_key: ec.EllipticCurvePrivateKey,
          issuer: str, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_kazoo_over_tls_with_jks_key_stores(tmp_path: Path) -> None:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("zkpy-test-ca", ca_key, ca_key, "zkpy-test-ca", ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _cert("localhost", server_key, ca_key, "zkpy-test-ca", ca=False)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = _cert("client", client_key, ca_key, "zkpy-test-ca", ca=False)
    der = serialization.Encoding.DER
    pkcs8 = server_key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    keystore = jks.KeyStore.new("jks", [jks.PrivateKeyEntry.new(
        "server", [server_cert.public_bytes(der), ca.public_bytes(der)], pkcs8, "pkcs8")])
    keystore.save(str(tmp_path / "keystore.jks"), "apassword")
    truststore = jks.KeyStore.new("jks", [jks.TrustedCertEntry.new("ca", ca.public_bytes(der))])
    truststore.save(str(tmp_path / "truststore.jks"), "apassword")
    secure_port = free_port()
    server = ZkpyServer(tmp_path / "server", extra_config={
        "secureClientPort": str(secure_port),
        "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
        "ssl.keyStore.location": str(tmp_path / "keystore.jks"),
        "ssl.keyStore.password": "apassword",
        "ssl.trustStore.location": str(tmp_path / "truststore.jks"),
        "ssl.trustStore.password": "apassword",
    })
    pem = serialization.Encoding.PEM
    with server:
        client = KazooClient(
            f"127.0.0.1:{secure_port}", use_ssl=True, verify_certs=True,
            ca=_pem(tmp_path / "ca.pem", ca.public_bytes(pem)),
            certfile=_pem(tmp_path / "client.pem", client_cert.public_bytes(pem)),
            keyfile=_pem(tmp_path / "client.key", client_key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())),
        )
        client.start(timeout=15)
        try:
            client.create("/tls", b"secret")
            assert client.get("/tls")[0] == b"secret"
        finally:
            client.stop()
            client.close()
        plain = KazooClient(server.address)
        plain.start(timeout=10)
        assert plain.get("/tls")[0] == b"secret"
        plain.stop()
        plain.close()
