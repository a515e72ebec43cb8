"""Columns framed by hand reach the server as the arrays they were built from."""

from __future__ import annotations

from psycopg.types.json import Jsonb

from checkpointers import AsyncPool
from checkpointers._arrays import encode_column, register_array_dumpers


async def test_every_kind_of_column_round_trips_through_the_server(pool: AsyncPool) -> None:
    async with pool.connection() as conn, conn.cursor(binary=True) as cur:
        register_array_dumpers(cur)
        await cur.execute(
            "SELECT %(t)b::text[] AS t, %(b)b::bytea[] AS b, %(i)b::integer[] AS i,"
            " %(l)b::bigint[] AS l, %(j)b::jsonb[] AS j, %(e)b::text[] AS e",
            {
                "t": encode_column("text", ["a", None, 'é ☃ {"x"}']),
                "b": encode_column("bytea", [b"\x00\xff", None]),
                "i": encode_column("int4", [-2, 0, None, 2**31 - 1]),
                "l": encode_column("int8", [None, -(2**63)]),
                "j": encode_column("jsonb", [Jsonb({"k": [1, "v"]}), None]),
                "e": encode_column("text", []),
            },
        )
        row = await cur.fetchone()
    assert row == {
        "t": ["a", None, 'é ☃ {"x"}'],
        "b": [b"\x00\xff", None],
        "i": [-2, 0, None, 2**31 - 1],
        "l": [None, -(2**63)],
        "j": [{"k": [1, "v"]}, None],
        "e": [],
    }
