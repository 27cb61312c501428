#!/usr/bin/python3
"""Decodes byte strings with Python's codecs, for differential_test.cpp.

usage: python_decode.py CODEC IN OUT

IN holds records: a 4-byte little-endian length, then that many bytes. For each record,
OUT gets: a 4-byte little-endian length and bytes.decode(CODEC, "replace") as UTF-8,
then a 4-byte little-endian signed offset: where bytes.decode(CODEC, "strict") fails
(UnicodeDecodeError.start), or -1 when it succeeds. One process per encoding keeps the
test fast.
"""
import struct
import sys


def main():
    codec, in_path, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(in_path, "rb") as f:
        data = f.read()
    out = []
    pos = 0
    while pos < len(data):
        (n,) = struct.unpack_from("<I", data, pos)
        pos += 4
        record = data[pos:pos + n]
        pos += n
        text = record.decode(codec, "replace").encode("utf-8", "surrogatepass")
        try:
            record.decode(codec, "strict")
            offset = -1
        except UnicodeDecodeError as e:
            offset = e.start
        out.append(struct.pack("<I", len(text)) + text + struct.pack("<i", offset))
    with open(out_path, "wb") as f:
        f.write(b"".join(out))


if __name__ == "__main__":
    main()
