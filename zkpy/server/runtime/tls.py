"""TLS for secureClientPort, configured with ZooKeeper's ssl.* keys (X509Util / ClientX509Util).

ZooKeeper takes its key and trust material from Java key stores; zkpy reads the same files:
`ssl.keyStore.location` / `ssl.trustStore.location` of type JKS (read with pyjks), PKCS12 (read
with cryptography) or PEM (key and certificates in one file), the type taken from
`ssl.keyStore.type` or from the file name as ZooKeeper guesses it. `ssl.clientAuth` is `need`
(ZooKeeper's default), `want` or `none`. Python's ssl module loads certificates from files only,
so the decoded material is written as PEM into a private temporary directory.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import load_der_x509_certificate


class TlsConfigError(ValueError):
    pass


def _store_type(location: str, declared: str | None) -> str:
    if declared:
        return declared.upper()
    lower = location.lower()
    if lower.endswith((".p12", ".pfx")):
        return "PKCS12"
    if lower.endswith((".pem", ".crt", ".key")):
        return "PEM"
    return "JKS"


def _pem_cert(der: bytes) -> bytes:
    return load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def _key_store_pem(location: str, password: str | None, store_type: str) -> bytes:
    """The private key and its certificate chain, as one PEM blob."""
    if store_type == "PEM":
        return Path(location).read_bytes()
    if store_type == "PKCS12":
        key, cert, extra = pkcs12.load_key_and_certificates(
            Path(location).read_bytes(), password.encode() if password else None)
        if key is None or cert is None:
            raise TlsConfigError(f"{location}: no private key entry")
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        return pem + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [cert, *(extra or [])])
    import jks

    store = jks.KeyStore.load(location, password or "")
    for entry in store.private_keys.values():
        if not entry.is_decrypted():
            entry.decrypt(password or "")
        key = serialization.load_der_private_key(entry.pkey_pkcs8, password=None)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        return pem + b"".join(_pem_cert(der) for _, der in entry.cert_chain)
    raise TlsConfigError(f"{location}: no private key entry")


def _trust_store_pem(location: str, password: str | None, store_type: str) -> bytes:
    if store_type == "PEM":
        return Path(location).read_bytes()
    if store_type == "PKCS12":
        _, cert, extra = pkcs12.load_key_and_certificates(
            Path(location).read_bytes(), password.encode() if password else None)
        certs = [c for c in [cert, *(extra or [])] if c is not None]
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
    import jks

    store = jks.KeyStore.load(location, password or "")
    pems = [_pem_cert(entry.cert) for entry in store.certs.values()]
    for entry in store.private_keys.values():
        pems.extend(_pem_cert(der) for _, der in entry.cert_chain)
    return b"".join(pems)


def server_context(settings: Mapping[str, str]) -> ssl.SSLContext:
    """An SSLContext for the secure client port from zoo.cfg's ssl.* keys."""
    key_location = settings.get("ssl.keyStore.location")
    if not key_location:
        raise TlsConfigError("secureClientPort needs ssl.keyStore.location")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    private_dir = tempfile.mkdtemp(prefix="zkpy-tls-")
    os.chmod(private_dir, 0o700)
    try:
        chain = Path(private_dir) / "key-and-chain.pem"
        chain.write_bytes(_key_store_pem(key_location, settings.get("ssl.keyStore.password"),
                                         _store_type(key_location, settings.get("ssl.keyStore.type"))))
        context.load_cert_chain(str(chain))
    finally:
        for leftover in Path(private_dir).iterdir():
            leftover.unlink()
        os.rmdir(private_dir)
    trust_location = settings.get("ssl.trustStore.location")
    if trust_location:
        trusted = _trust_store_pem(trust_location, settings.get("ssl.trustStore.password"),
                                   _store_type(trust_location, settings.get("ssl.trustStore.type")))
        context.load_verify_locations(cadata=trusted.decode("ascii"))
    client_auth = settings.get("ssl.clientAuth", "need").lower()
    context.verify_mode = {"need": ssl.CERT_REQUIRED, "want": ssl.CERT_OPTIONAL,
                           "none": ssl.CERT_NONE}.get(client_auth, ssl.CERT_REQUIRED)
    if context.verify_mode != ssl.CERT_NONE and not trust_location:
        context.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    return context
