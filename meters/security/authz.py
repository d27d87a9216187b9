"""Who is calling and may they: run by the server interceptor before every /meters.* method.

A bearer token, when present, says who the caller is (the gateway forwards the REST caller's
`Authorization` header); without one, the client certificate's common name may stand for a device
or service (roles.CERTIFICATE_ROLES). Then the method's entry in roles.METHOD_ROLES decides.
"""

from dataclasses import replace

import grpc

from meters.errors import permission_denied, unauthenticated
from meters.security.identity import Caller
from meters.security.roles import CERTIFICATE_ROLES, HUMAN_ROLES, METHOD_ROLES, SERVICE_FORECAST, SERVICE_SCORING
from meters.security.tokens import TokenRejected, TokenVerifier

DEVELOPER = Caller("developer", frozenset({*HUMAN_ROLES, SERVICE_SCORING, SERVICE_FORECAST}), "development")


def _peer_name(context: grpc.aio.ServicerContext) -> str:
    names = (context.auth_context() or {}).get("x509_common_name") or []
    return names[0].decode() if names else ""


def _bearer(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise unauthenticated("authorization metadata must be 'Bearer <token>'", "TOKEN_MALFORMED")
            return token.strip()
    return None


class Authorizer:
    def __init__(self, verifier: TokenVerifier | None):
        """verifier None: development mode, every call is the developer with every role."""
        self._verifier = verifier

    async def caller(self, context: grpc.aio.ServicerContext) -> Caller:
        if self._verifier is None:
            return DEVELOPER
        peer = _peer_name(context)
        token = _bearer(context)
        if token is not None:
            try:
                found = await self._verifier.verify(token)
            except TokenRejected as err:
                raise unauthenticated(err.message, err.reason) from None
            return Caller(found.subject, found.roles, found.via, peer)
        roles = CERTIFICATE_ROLES.get(peer)
        if roles:
            return Caller(f"cert:{peer}", roles, "certificate", peer)
        raise unauthenticated("a bearer token is required (authorization: Bearer <token>)")

    async def authorize(self, method: str, context: grpc.aio.ServicerContext) -> Caller:
        caller = await self.caller(context)
        allowed = METHOD_ROLES.get(method, frozenset())
        if not caller.roles & allowed:
            raise permission_denied(f"{method.rsplit('/', 1)[-1]} needs one of the roles {', '.join(sorted(allowed))}",
                                    method=method, allowed_roles=",".join(sorted(allowed)))
        return replace(caller, method=method)


def authorizer_for(settings) -> Authorizer:
    if settings.dev_plaintext:
        return Authorizer(None)
    missing = [n for n in ("auth_jwks_url", "auth_issuer", "auth_audience") if not getattr(settings, n)]
    if missing:
        raise RuntimeError(f"token verification needs METERS_{', METERS_'.join(m.upper() for m in missing)} "
                           "(or METERS_DEV_PLAINTEXT=1 for plain-text development)")
    return Authorizer(TokenVerifier(settings.auth_jwks_url, settings.auth_issuer, settings.auth_audience,
                                    settings.tls_ca_file or None))
