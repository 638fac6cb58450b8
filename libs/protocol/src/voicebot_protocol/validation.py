"""One readable line for a pydantic ValidationError, the same on every side (public protocol,
internal HTTP bodies, media signalling): `<where>: <what>` for the first error."""

from pydantic import ValidationError


def describe_validation_error(
    exc: ValidationError, *, whole: str = "message", depth: int | None = None
) -> str:
    """`depth` keeps only the first parts of the location (deeper parts name union branches)."""
    errors = exc.errors(include_url=False)
    if not errors:
        return whole
    first = errors[0]
    loc = first["loc"] if depth is None else first["loc"][:depth]
    where = ".".join(str(part) for part in loc) or whole
    return f"{where}: {first['msg']}"
