"""The secure perimeter, in one place: TLS material, token verification, the role table,
the check every server runs per call, keyed hashes of identifiers and the local dev issuer.

Services only declare their methods' roles in `roles.py`; everything else is shared.
"""
