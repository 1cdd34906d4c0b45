"""Errors a service raises; views turn them into form messages, the API into JSON."""


class ServiceError(Exception):
    status = 422

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class InvalidInput(ServiceError):
    status = 422


class Conflict(ServiceError):
    status = 409


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class TooManyAttempts(ServiceError):
    """An account locked after repeated failed logins; `until` is when it opens again (UTC)."""

    status = 429

    def __init__(self, message: str, until):
        super().__init__(message)
        self.until = until


class FieldErrors:
    """Collects field messages so a service reports every problem at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self, message: str = "输入有误，请检查标出的字段") -> None:
        if self.errors:
            raise InvalidInput(message, self.errors)
