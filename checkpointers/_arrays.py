"""Columns of a group commit encoded as binary PostgreSQL arrays in one pass.

psycopg dumps a list parameter element by element through its generic machinery (find the
element type, pick a dumper, call it, frame the result), several microseconds per element.
A group commit sends a few hundred elements per transaction, all of a known type, so this
module frames them directly: the same bytes psycopg would send (PostgreSQL's binary array
format), about four times less client CPU. JSON values are encoded by the same function
psycopg would call, so what is stored does not change.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Sequence
from typing import Any, Literal

from psycopg.abc import AdaptContext, Buffer
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types.json import Jsonb

__all__ = ["Kind", "encode_column", "register_array_dumpers"]

#: The element types a batch column may have.
Kind = Literal["text", "bytea", "int4", "int8", "jsonb"]

# Element type OID and array type OID of each kind (PostgreSQL's fixed catalog OIDs).
_OIDS: dict[Kind, tuple[int, int]] = {
    "text": (25, 1009),
    "bytea": (17, 1001),
    "int4": (23, 1007),
    "int8": (20, 1016),
    "jsonb": (3802, 3807),
}

# one dimension: ndim, has-nulls flag, element OID, length, lower bound
_HEADER = struct.Struct("!iiIii")
_EMPTY = struct.Struct("!iiI")
_NULL = b"\xff\xff\xff\xff"
_JSONB_VERSION = b"\x01"


class _Encoded:
    """A column already in PostgreSQL's binary array format."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


def _encoded_type(kind: Kind) -> type[_Encoded]:
    return type(f"Encoded{kind.title()}Array", (_Encoded,), {"__slots__": ()})


_TYPES: dict[Kind, type[_Encoded]] = {kind: _encoded_type(kind) for kind in _OIDS}


class _EncodedDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: Any) -> Buffer | None:
        return obj.data  # type: ignore[no-any-return]


_DUMPERS: dict[type[_Encoded], type[Dumper]] = {
    cls: type(f"{cls.__name__}Dumper", (_EncodedDumper,), {"oid": _OIDS[kind][1]})
    for kind, cls in _TYPES.items()
}


def register_array_dumpers(context: AdaptContext) -> None:
    """Teach ``context`` (a cursor or connection) to send what :func:`encode_column`
    returns. Without it psycopg cannot adapt those values."""
    for cls, dumper in _DUMPERS.items():
        context.adapters.register_dumper(cls, dumper)


def _frame(elements: Sequence[bytes | None], oid: int) -> bytes:
    if not elements:
        return _EMPTY.pack(0, 0, oid)
    parts = [b""]
    nulls = 0
    for element in elements:
        if element is None:
            parts.append(_NULL)
            nulls = 1
        else:
            parts.append(len(element).to_bytes(4, "big"))
            parts.append(element)
    parts[0] = _HEADER.pack(1, nulls, oid, len(elements), 1)
    return b"".join(parts)


def _jsonb(value: Jsonb) -> bytes:
    # what psycopg's jsonb dumper sends: a version byte, then the text from the wrapper's
    # dumps (json.dumps if it has none)
    data = (value.dumps or json.dumps)(value.obj)
    return _JSONB_VERSION + (data.encode() if isinstance(data, str) else bytes(data))


def _bytea(value: Any) -> bytes:
    return value if type(value) is bytes else bytes(memoryview(value))  # never bytes(int)


_ELEMENT: dict[Kind, Callable[[Any], bytes]] = {
    "text": str.encode,
    "bytea": _bytea,
    "int4": lambda v: int(v).to_bytes(4, "big", signed=True),
    "int8": lambda v: int(v).to_bytes(8, "big", signed=True),
    "jsonb": _jsonb,
}


def encode_column(kind: Kind, values: Sequence[Any]) -> _Encoded:
    """``values`` (None for SQL NULL) as one array parameter of element type ``kind``.

    Raises:
        TypeError: a value does not fit ``kind`` (text must be ``str``).
        OverflowError: an integer does not fit ``kind``.
    """
    element = _ELEMENT[kind]
    encoded = [None if value is None else element(value) for value in values]
    return _TYPES[kind](_frame(encoded, _OIDS[kind][0]))
