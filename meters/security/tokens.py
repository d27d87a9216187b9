"""Bearer tokens: OIDC JWTs verified against the issuer's JWKS (signature, issuer, audience, expiry).

PyJWT does the verification; keys come from the issuer's JWKS URL (Entra ID publishes one per
tenant), fetched off the event loop and refreshed when a token names a key id not yet seen.
A verified token is remembered until it expires, so a caller sending the same token on every
call pays the signature check once (a gateway does the same).
"""

import asyncio
import ssl
import time
from collections import OrderedDict
from dataclasses import dataclass

import jwt

from meters.security.identity import Caller

ALGORITHMS = ["RS256", "ES256"]
CACHE_SIZE = 10_000


@dataclass(frozen=True)
class TokenRejected(Exception):
    reason: str  # UPPER_SNAKE, e.g. TOKEN_EXPIRED
    message: str


class TokenVerifier:
    def __init__(self, jwks_url: str, issuer: str, audience: str, ca_file: str | None = None, leeway_s: float = 30):
        context = None
        if jwks_url.startswith("https"):
            # The system's CAs (Entra ID's JWKS has a public certificate) and, on top, the mesh CA
            # (the local issuer's); create_default_context(cafile=...) would trust the mesh CA alone.
            context = ssl.create_default_context()
            if ca_file:
                context.load_verify_locations(ca_file)
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=5, ssl_context=context)
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._verified: OrderedDict[str, tuple[float, Caller]] = OrderedDict()
        self._lock = asyncio.Lock()

    async def refresh_keys(self) -> None:
        async with self._lock:
            keys = await asyncio.to_thread(self._jwks.get_signing_keys, True)
            self._keys = {k.key_id: k for k in keys}

    async def verify(self, token: str) -> Caller:
        hit = self._verified.get(token)
        if hit and hit[0] > time.time():
            self._verified.move_to_end(token)
            return hit[1]
        try:
            kid = jwt.get_unverified_header(token).get("kid", "")
        except jwt.PyJWTError as err:
            raise TokenRejected("TOKEN_MALFORMED", f"token is not a JWT: {err}") from None
        if kid not in self._keys:
            try:
                await self.refresh_keys()
            except jwt.PyJWKClientError as err:
                raise TokenRejected("JWKS_UNAVAILABLE", f"cannot fetch the issuer's keys: {err}") from None
        key = self._keys.get(kid)
        if key is None:
            raise TokenRejected("TOKEN_KEY_UNKNOWN", "token signed by a key the issuer does not publish")
        try:
            claims = jwt.decode(token, key, algorithms=ALGORITHMS, audience=self._audience, issuer=self._issuer,
                                leeway=self._leeway, options={"require": ["exp", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            raise TokenRejected("TOKEN_EXPIRED", "token expired") from None
        except jwt.PyJWTError as err:
            raise TokenRejected("TOKEN_INVALID", f"token rejected: {err}") from None
        roles = claims.get("roles") or []
        if not isinstance(roles, list):
            raise TokenRejected("TOKEN_INVALID", "roles claim must be a list")
        caller = Caller(str(claims.get("oid") or claims["sub"]), frozenset(map(str, roles)), "token")
        self._remember(token, float(claims["exp"]), caller)
        return caller

    def _remember(self, token: str, expires: float, caller: Caller) -> None:
        self._verified[token] = (expires, caller)
        while len(self._verified) > CACHE_SIZE:
            self._verified.popitem(last=False)
