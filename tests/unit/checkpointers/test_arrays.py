"""Batch columns framed by hand are the bytes psycopg would send, and bad values are refused."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg.adapt import PyFormat, Transformer
from psycopg.types.json import Jsonb

from checkpointers._arrays import Kind, encode_column


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("text", ["tput-1", None, "", "é ☃ \\ \" ' {}"]),
        ("bytea", [b"\x00\x01", None, b""]),
        ("jsonb", [Jsonb({"a": [1, 2.5, None], "é": "x"}), None, Jsonb(b'{"raw":1}', dumps=bytes)]),
    ],
)
def test_a_column_is_the_array_psycopg_would_send(kind: Kind, values: list[Any]) -> None:
    psycopg_dumper = Transformer().get_dumper(values, PyFormat.BINARY)
    sent = psycopg_dumper.dump(values)
    assert sent is not None
    assert encode_column(kind, values).data == bytes(sent)


def test_integers_are_sent_at_the_column_width() -> None:
    # psycopg would send these as int2 (smallest fit); the column's own width is sent instead
    assert encode_column("int4", [-3, None]).data == (
        b"\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x17\x00\x00\x00\x02\x00\x00\x00\x01"
        b"\x00\x00\x00\x04\xff\xff\xff\xfd\xff\xff\xff\xff"
    )
    assert encode_column("int8", [2**40]).data.endswith(b"\x00\x00\x00\x08" + (2**40).to_bytes(8))


@pytest.mark.parametrize(
    ("kind", "value", "error"),
    [
        ("text", 5, TypeError),  # not silently str()'d
        ("bytea", 3, TypeError),  # bytes(3) would be three zero bytes
        ("bytea", "text", TypeError),
        ("int4", 2**31, OverflowError),
    ],
)
def test_a_value_that_does_not_fit_its_column_is_refused(
    kind: Kind, value: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        encode_column(kind, [value])
