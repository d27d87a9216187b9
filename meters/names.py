"""Resource names (AIP-122) such as "meters/42"."""

from meters.errors import FieldViolation, invalid_argument


def parse_id(name: str, collection: str, field: str = "name") -> int:
    """The numeric id in "<collection>/<id>", or INVALID_ARGUMENT naming the field."""
    prefix = collection + "/"
    tail = name[len(prefix):] if name.startswith(prefix) else ""
    if not tail.isdigit():
        raise invalid_argument(
            f"{field} must look like {collection}/<number>, got {name!r}",
            FieldViolation(field, f"expected {collection}/<number>"),
        )
    return int(tail)
