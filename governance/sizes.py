"""Byte sizes written the way people write them (`50MB`, `48MiB`, `1.5GB`, or a plain number of bytes).

Parsing is pydantic's `ByteSize` (decimal and binary units); this module only adds the error that
names the value and the accepted forms, and rejects booleans and sizes of zero. `governance` owns it
as the leftmost package with a size in its config.
"""

from typing import Annotated

from pydantic import BeforeValidator, ByteSize, TypeAdapter, ValidationError

ACCEPTED_FORMS = "write it like 50MB, 48MiB, 1.5GB, 200kB, or a plain number of bytes such as 50000000"

_BYTES = TypeAdapter(ByteSize)


def parse_size(value: object) -> int:
    """Bytes in a size; raises ValueError naming the value and the accepted forms."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size: {ACCEPTED_FORMS}")
    try:
        size = int(_BYTES.validate_python(value))
    except ValidationError:
        raise ValueError(f"{value!r} is not a size: {ACCEPTED_FORMS}") from None
    if size < 1:
        raise ValueError(f"size {value!r} must be at least one byte: {ACCEPTED_FORMS}")
    return size


Size = Annotated[int, BeforeValidator(parse_size)]
"""A config field holding a number of bytes, written as a size; validated when the config is read."""
