"""The :class:`~statecast.agent.auth.Reviewer` on the real API server.

TokenReview and SubjectAccessReview through the ``kubernetes`` client, with the
agent's own credentials (its ServiceAccount needs ``create`` on
``tokenreviews.authentication.k8s.io`` and ``subjectaccessreviews.authorization.k8s.io``;
the chart's ClusterRole grants it).
"""

from __future__ import annotations

from typing import Any

from statecast.agent.auth import Identity, TokenVerdict

__all__ = ["KubernetesReviewer"]

#: The subresource whose RBAC verbs decide access to a resource's data.
GROUP, RESOURCE, SUBRESOURCE = "statecast.io", "sharedresources", "data"


class KubernetesReviewer:
    """Reviews tokens and access on the API server (blocking calls).

    Args:
        api: A ``kubernetes.client.ApiClient`` (the agent's gateway's).
    """

    def __init__(self, api: Any) -> None:
        from kubernetes import client

        self._client = client
        self._authn = client.AuthenticationV1Api(api)
        self._authz = client.AuthorizationV1Api(api)

    def review_token(self, token: str, audience: str) -> TokenVerdict:
        """See :class:`~statecast.agent.auth.Reviewer`."""
        c = self._client
        review = c.V1TokenReview(spec=c.V1TokenReviewSpec(token=token, audiences=[audience]))
        status = self._authn.create_token_review(review).status
        if status is None or not status.authenticated or status.user is None:
            reason = (status.error if status is not None else None) or "not authenticated"
            return TokenVerdict(None, reason)
        if status.audiences is not None and audience not in status.audiences:
            return TokenVerdict(None, f"the token is not for audience {audience}")
        user = status.user
        extra = tuple(sorted((k, tuple(v)) for k, v in (user.extra or {}).items()))
        identity = Identity(user.username or "", user.uid or "", tuple(user.groups or ()), extra)
        return TokenVerdict(identity)

    def review_access(
        self, identity: Identity, namespace: str, resource: str, verb: str
    ) -> tuple[bool, str]:
        """See :class:`~statecast.agent.auth.Reviewer`."""
        c = self._client
        attributes = c.V1ResourceAttributes(
            group=GROUP,
            resource=RESOURCE,
            subresource=SUBRESOURCE,
            verb=verb,
            namespace=namespace,
            name=resource,
        )
        spec = c.V1SubjectAccessReviewSpec(
            user=identity.user,
            uid=identity.uid or None,
            groups=list(identity.groups) or None,
            extra={k: list(v) for k, v in identity.extra} or None,
            resource_attributes=attributes,
        )
        status = self._authz.create_subject_access_review(c.V1SubjectAccessReview(spec=spec)).status
        allowed = bool(status is not None and status.allowed and not status.denied)
        reason = (status.reason or "") if status is not None else ""
        if not allowed and not reason:
            reason = "no RBAC rule allows it"
        return allowed, reason
