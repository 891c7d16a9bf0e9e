"""TLS for HTTPS probes: the context a probe verifies with, and its certificate's expiry."""

from __future__ import annotations

import ssl
from functools import lru_cache


@lru_cache(maxsize=64)
def context(verify: bool, ca_file: str | None, check_name: bool) -> ssl.SSLContext:
    """A client context: the system's (or ``ca_file``'s) authorities, or none at all."""
    if not verify:
        unverified = ssl.create_default_context()
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        return unverified
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.check_hostname = check_name
    return ctx


def expires_at(ssl_object: ssl.SSLObject | None) -> float | None:
    """The server certificate's end of validity (epoch seconds), read on any handshake."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    # Loaded on the first HTTPS probe: about 7 MB resident that a host without one never pays.
    from cryptography import x509

    return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()


def describe_error(exc: ssl.SSLError) -> str:
    """``certificate has expired`` rather than the whole OpenSSL error text."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"TLS certificate refused: {exc.verify_message}"
    return f"TLS error: {exc.reason or exc}"
