"""Every API operation on patients, referrals and milestones leaves one audit entry.

The key is the actor (``practices.audit`` reads ``request.auth``). The entry is written
once the response is known to be a success, inside the key's practice scope, so a 4xx
(a refused step, a bad payload, another practice's id) records nothing: nothing was read
or written.
"""

from __future__ import annotations

from typing import Any

from practices.audit import AuditAction, record

ACTION_OF_VIEW_ACTION: dict[str, AuditAction] = {
    "list": AuditAction.LISTED,
    "retrieve": AuditAction.VIEWED,
    "create": AuditAction.CREATED,
    "update": AuditAction.CHANGED,
    "partial_update": AuditAction.CHANGED,
}


class AuditedApiMixin:
    # Mixed in before the viewset's bases. A view may set ``self.audit_object`` (what it
    # created or changed) and ``self.audit_action`` (an action of its own, e.g. the
    # milestone events) before it returns.
    audit_object_type = ""
    audit_object: Any = None
    audit_action: AuditAction | None = None

    def get_object(self):
        obj = super().get_object()
        self.audit_object = obj
        return obj

    def perform_create(self, serializer):
        super().perform_create(serializer)
        self.audit_object = serializer.instance

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if 200 <= response.status_code < 300 and getattr(request, "auth", None) is not None:
            self._record(request, response)
        return response

    def _record(self, request, response) -> None:
        action = self.audit_action or ACTION_OF_VIEW_ACTION.get(self.action or "")
        if action is None:
            return
        summary = f"API: {self.action.replace('_', ' ')}"
        if action == AuditAction.LISTED:
            data = response.data
            rows = data.get("results", []) if isinstance(data, dict) else data
            record(
                request,
                action,
                object_type=self.audit_object_type,
                count=len(rows),
                summary=summary,
            )
        elif self.audit_object is not None:
            record(request, action, obj=self.audit_object, summary=summary)
