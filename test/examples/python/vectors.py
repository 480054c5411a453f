"""Helpers of the Python examples: numpy arrays as PostgreSQL real[] in
psycopg 3 (binary format both ways, no text round trip), Fashion-MNIST from
the Debian package dataset-fashion-mnist, and a binary COPY loader.

    conn = connect()                    # PG* environment; numpy adapters registered
    train, labels = fashion("train", 10000)
    copy_vectors(conn, "fashion", train, labels)
"""
import gzip
import re
import struct
import sys

import numpy as np
import psycopg
from psycopg.adapt import Dumper, Loader
from psycopg.pq import Format

DATA = "/usr/share/datasets/fashion-mnist"
FLOAT4_OID = 700
FLOAT4_ARRAY_OID = 1021
# One array element in PostgreSQL's binary array format: length, then value.
ELEMENT = np.dtype([("len", ">i4"), ("value", ">f4")])


class VectorDumper(Dumper):
    """A 1-d numpy array as a binary real[] (no text round trip)."""

    format = Format.BINARY
    oid = FLOAT4_ARRAY_OID

    def dump(self, a):
        a = np.asarray(a, dtype=np.float32)
        if a.ndim != 1:
            raise ValueError(f"a vector must be a 1-d array, not {a.ndim}-d")
        body = np.empty(a.size, dtype=ELEMENT)
        body["len"] = 4
        body["value"] = a
        # ndim, has-nulls flag, element type, length, lower bound
        return struct.pack(">iiIii", 1, 0, FLOAT4_OID, a.size, 1) + body.tobytes()


class VectorLoader(Loader):
    """A binary real[] as a float32 numpy array."""

    format = Format.BINARY

    def load(self, data):
        ndim, _, elem, n, _ = struct.unpack_from(">iiIii", data)
        if ndim != 1 or elem != FLOAT4_OID:
            raise ValueError("expected a one-dimensional real[]")
        return np.frombuffer(data, dtype=ELEMENT, offset=20, count=n)["value"].astype(np.float32)


def read_idx(name, header):
    with gzip.open(f"{DATA}/{name}") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


def fashion(part, n):
    """The first n images (float32, n x 784) and labels of part "train" or "t10k"."""
    images = read_idx(f"{part}-images-idx3-ubyte.gz", 16).reshape(-1, 784)[:n].astype(np.float32)
    return images, read_idx(f"{part}-labels-idx1-ubyte.gz", 8)[:n].astype(np.int32)


def connect(**kwargs):
    """A connection (PG* environment) that sends numpy arrays as real[] and
    reads real[] back as numpy arrays (in binary results)."""
    conn = psycopg.connect(autocommit=True, **kwargs)
    conn.adapters.register_dumper(np.ndarray, VectorDumper)
    conn.adapters.register_loader(FLOAT4_ARRAY_OID, VectorLoader)
    conn.execute("SET client_min_messages = warning")
    return conn


def copy_vectors(conn, table, vectors, labels):
    """Creates `table` (id, label, embedding real[]) and fills it with one
    binary COPY: row i holds vectors[i] and labels[i]."""
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, label int NOT NULL, embedding real[] NOT NULL)")
    # 784 floats (3 kB) fit in a page: store them uncompressed, in line, so
    # that an exact scan does not decompress every vector it reads.
    conn.execute(f"ALTER TABLE {table} ALTER embedding SET STORAGE PLAIN")
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table} (id, label, embedding) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "int4", "float4[]"])
            for i in range(len(vectors)):
                copy.write_row((i, int(labels[i]), vectors[i]))


def verdict(example, failures):
    """Prints the failed checks (or that all passed); the exit status."""
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print(f"{example}: all checks passed")
    return 0


def short_plan(cur, sql, params):
    """EXPLAIN of sql as one line, the vector literal elided."""
    lines = [r[0] for r in cur.execute("EXPLAIN (COSTS OFF) " + sql, params)]
    return " / ".join(re.sub(r"'\{[^']*\}'", "'{...}'", line.strip()) for line in lines)


