"""OData errors: the JSON error body of OData v4 (``{"error": {"code", "message",
"target"}}``), so a BI client shows the message; ``target`` names the query option or
property to fix."""

from __future__ import annotations


class ODataError(Exception):
    status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str = "bad_request",
        target: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.target = target
        if status is not None:
            self.status = status
        self.headers = headers or {}

    def body(self) -> dict[str, dict[str, str | None]]:
        error: dict[str, str | None] = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        return {"error": error}


class NotImplementedOption(ODataError):
    """A query option or operator the feed does not implement: 501, never ignored."""

    status = 501

    def __init__(self, message: str, *, target: str) -> None:
        super().__init__(message, code="not_implemented", target=target)
