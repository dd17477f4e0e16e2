"""Mutual TLS between agents and from the operator: certificates and TLS contexts.

:mod:`statecast.pki.certs` makes authorities and signs certificates (the operator's
issuer; tests); :mod:`statecast.pki.contexts` holds a party's reloadable TLS material.
When to renew what is decided in :mod:`statecast.core.pki`.
"""
