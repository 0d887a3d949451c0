"""Sign JWT access tokens shaped like the ones Entra ID issues for Outlook IMAP.

One RSA key and its ``kid`` make a :class:`TokenSigner`; ``mint()`` issues RS256 tokens. The
Dovecot test bed checks them with the public key (``public_key_pem()``), and the identity-platform
emulator will publish the same key as a JWKS (``jwk()``), so both peers accept the same tokens.

Claims follow Microsoft's access tokens for ``https://outlook.office.com`` (``aud``, ``tid``,
``upn``, ``scp`` ...), plus the two things Dovecot needs that Azure does not send: a ``scope``
claim holding full-URL scopes (Dovecot never reads ``scp``), each under the token's own ``aud``
(so the scope check also refuses a token for another resource where Dovecot cannot check
``aud``), and ``email``. Two Dovecot rules
shape the rest: no JSON ``null`` anywhere (it crashes Dovecot's auth process) and no ``iat`` or
``nbf`` in the future (Dovecot allows no clock skew, and its clock can lag: both are dated
``_SKEW`` seconds back).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "DEFAULT_AUDIENCE",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_SCOPES",
    "DEFAULT_TENANT_ID",
    "TokenSigner",
    "decode_unverified",
    "full_scope",
]

DEFAULT_AUDIENCE = "https://outlook.office.com"
DEFAULT_SCOPES: tuple[str, ...] = ("IMAP.AccessAsUser.All",)
_SKEW = 30  # seconds by which iat/nbf are dated back

# Fixed, obviously fake ids: tokens and test expectations stay stable across runs.
DEFAULT_TENANT_ID = "5a1dbe0c-0e65-4e5a-9c1d-000000000001"
DEFAULT_CLIENT_ID = "5a1dbe0c-0e65-4e5a-9c1d-00000000c11e"
_OID_NAMESPACE = uuid.UUID("9b8f4c1e-6d0a-4f4e-8d1c-0f0a11ce0b0b")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64url(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def full_scope(scope: str, audience: str = DEFAULT_AUDIENCE) -> str:
    """``IMAP.AccessAsUser.All`` -> ``https://outlook.office.com/IMAP.AccessAsUser.All``.

    Scopes that already name their resource (contain ``://``) are returned unchanged.
    """
    if "://" in scope:
        return scope
    return f"{audience.rstrip('/')}/{scope}"


def _short_scope(scope: str) -> str:
    # Azure's scp claim carries scope names without their resource prefix.
    return scope.rsplit("/", 1)[-1] if "://" in scope else scope


class TokenSigner:
    """An RSA signing key plus the claims every token of one (fake) tenant shares.

    ``kid`` defaults to the base64url SHA-1 thumbprint of the public key, as Entra ID's key ids
    are, so a key saved with :meth:`save` and read back with :meth:`load` keeps its ``kid``.
    """

    def __init__(
        self,
        key: rsa.RSAPrivateKey | None = None,
        *,
        kid: str | None = None,
        tenant_id: str = DEFAULT_TENANT_ID,
        issuer: str | None = None,
        audience: str = DEFAULT_AUDIENCE,
        client_id: str = DEFAULT_CLIENT_ID,
    ) -> None:
        self._key = key if key is not None else self.generate_key()
        self.tenant_id = tenant_id
        self.issuer = (
            issuer if issuer is not None else f"https://sts.sandbox.o365imap.test/{tenant_id}/"
        )
        self.audience = audience
        self.client_id = client_id
        self.kid = kid if kid is not None else self.thumbprint()

    # -- keys ------------------------------------------------------------------------------------

    @staticmethod
    def generate_key() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        return self._key

    def thumbprint(self) -> str:
        """base64url SHA-1 of the DER public key: the shape of Entra ID's ``kid``/``x5t``."""
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # SHA-1 only names the key, as x5t does; it protects nothing.
        return _b64url(hashlib.sha1(der, usedforsecurity=False).digest())

    def public_key_pem(self) -> bytes:
        """The public key as SubjectPublicKeyInfo PEM (what Dovecot's key dictionary holds)."""
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def private_key_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def jwk(self) -> dict[str, str]:
        """The public key as a JWK (RFC 7517), as an OpenID ``jwks_uri`` document lists it."""
        numbers = self._key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "x5t": self.thumbprint(),
            "n": _int_b64url(numbers.n),
            "e": _int_b64url(numbers.e),
        }

    def save(self, path: Path) -> None:
        """Write the private key (PKCS#8 PEM) readable by its owner only."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL-free but mode-first: the key is never world-readable, not even for a moment.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(self.private_key_pem())
        os.chmod(path, 0o600)

    @classmethod
    def load(cls, path: Path, **kwargs: Any) -> TokenSigner:
        """A signer for the key saved at ``path``; ``kwargs`` as for the constructor."""
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA private key")
        return cls(key, **kwargs)

    @classmethod
    def load_or_create(cls, path: Path, **kwargs: Any) -> TokenSigner:
        """The key at ``path``, or a new one saved there (a restarted sandbox keeps its key)."""
        if path.exists():
            return cls.load(path, **kwargs)
        signer = cls(**kwargs)
        signer.save(path)
        return signer

    # -- tokens ----------------------------------------------------------------------------------

    def object_id(self, user: str) -> str:
        """A stable per-user ``oid`` (a UUID, as Entra ID's object ids are)."""
        return str(uuid.uuid5(_OID_NAMESPACE, f"{self.tenant_id}:{user.lower()}"))

    def subject(self, user: str) -> str:
        # Entra ID's sub is pairwise: one value per user and application.
        digest = hashlib.sha256(f"{self.tenant_id}:{self.client_id}:{user.lower()}".encode())
        return _b64url(digest.digest())

    def claims(
        self,
        user: str,
        *,
        lifetime: float = 3600,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        extra_claims: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> dict[str, Any]:
        """The claim set :meth:`mint` signs; see there."""
        issued = int(time.time() if now is None else now)
        # Dovecot compares with its event loop's cached clock, which can lag real time by a
        # few seconds after an idle spell ("Token is not valid yet" for a token minted this
        # second): date the token a little back, as Entra itself tolerates skew. ``exp`` still
        # counts the lifetime from now.
        valid_from = issued - _SKEW
        scope_list = list(scopes)
        claims: dict[str, Any] = {
            "aud": self.audience,
            "iss": self.issuer,
            "iat": valid_from,
            "nbf": valid_from,
            "exp": int(issued + lifetime),
            "ver": "2.0",
            "tid": self.tenant_id,
            "appid": self.client_id,
            "idtyp": "user",
            "name": user.split("@", 1)[0],
            "oid": self.object_id(user),
            "sub": self.subject(user),
            "upn": user,
            "unique_name": user,
            "preferred_username": user,
            "email": user,
            "uti": _b64url(os.urandom(16)),
        }
        extra = extra_claims or {}
        for name, value in extra.items():
            if value is None:
                claims.pop(name, None)  # None removes: a JSON null would crash Dovecot's auth
            else:
                claims[name] = value
        if scope_list:
            short = [_short_scope(s) for s in scope_list]
            if "scp" not in extra:
                claims["scp"] = " ".join(short)
            if "scope" not in extra:
                # Dovecot reads this claim, not scp. Its full URLs name the token's own
                # audience, whatever resource the scopes were asked with: Dovecot's scope check
                # then refuses a token for another resource, also where it cannot check aud.
                audience = str(claims.get("aud", self.audience)).rstrip("/")
                claims["scope"] = " ".join(f"{audience}/{s}" for s in short)
        _reject_nulls(claims)
        return claims

    def mint(
        self,
        user: str,
        *,
        lifetime: float = 3600,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        extra_claims: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> str:
        """An RS256 access token for ``user``.

        ``scopes`` are names (``IMAP.AccessAsUser.All``) or full URLs; ``scp`` gets the names,
        ``scope`` the full URLs; an empty ``scopes`` leaves both claims out. ``extra_claims``
        override the defaults, and a ``None`` value removes that claim (a token without ``upn``,
        say). ``now`` backdates the token: ``now=time.time() - 7200`` makes an expired one.
        """
        claims = self.claims(
            user, lifetime=lifetime, scopes=scopes, extra_claims=extra_claims, now=now
        )
        headers = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        token: str = jwt.encode(claims, self._key, algorithm="RS256", headers=headers)
        return token


def _reject_nulls(value: object, where: str = "claims") -> None:
    if value is None:
        raise ValueError(f"{where} is null: Dovecot's auth process crashes on JSON null")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _reject_nulls(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _reject_nulls(item, f"{where}[{index}]")


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a token, without checking anything: for tests and debugging."""
    header = jwt.get_unverified_header(token)
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return dict(header), dict(claims)
