"""Checking a digest's signature with the exported public key, offline.

`cryptography` is imported only here and only when a signature is checked: the functions never
check signatures (KMS signs), so their bundles do without it.
"""

from __future__ import annotations

import base64

from billing_audit.domain.trail import Digest

ALGORITHMS = ("ECDSA_SHA_256", "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PSS_SHA_256")


class SignatureToolMissing(RuntimeError):
    """The `cryptography` package is not installed (pip install 'billing-audit[verify]')."""


def signature_problem(digest: Digest, public_key_pem: bytes) -> str | None:
    """Why the digest's signature does not hold under this key, or None when it does."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    except ImportError as exc:  # pragma: no cover - the dev and verify extras install it
        raise SignatureToolMissing("checking signatures needs pip install 'billing-audit[verify]'") from exc
    if digest.signature is None:
        return "the digest is not signed"
    if digest.signing_algorithm not in ALGORITHMS:
        return f"unknown signing algorithm {digest.signing_algorithm}"
    try:
        key = serialization.load_pem_public_key(public_key_pem)
        signature = base64.b64decode(digest.signature, validate=True)
    except ValueError as exc:
        return f"unreadable key or signature: {exc}"
    message = digest.signed_bytes()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and digest.signing_algorithm == "ECDSA_SHA_256":
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey) and digest.signing_algorithm == "RSASSA_PKCS1_V1_5_SHA_256":
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, rsa.RSAPublicKey) and digest.signing_algorithm == "RSASSA_PSS_SHA_256":
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
            key.verify(signature, message, pss, hashes.SHA256())
        else:
            return f"the key does not fit {digest.signing_algorithm}"
    except InvalidSignature:
        return "the signature does not match the digest under this key"
    return None
