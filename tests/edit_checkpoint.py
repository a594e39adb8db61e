#!/usr/bin/python3
"""Rewrites a safetensors checkpoint for the bad-input tests: set or delete metadata fields, rename a
tensor. Usage: edit_checkpoint.py IN OUT [key=value | -key | rename:OLD=NEW]..."""
import json
import struct
import sys

src, dst, edits = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(src, "rb") as f:
    raw = f.read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = header.setdefault("__metadata__", {})
for e in edits:
    if e.startswith("rename:"):
        old, new = e[len("rename:"):].split("=", 1)
        header[new] = header.pop(old)
    elif e.startswith("-"):
        meta.pop(e[1:], None)
    else:
        k, v = e.split("=", 1)
        meta[k] = v
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
with open(dst, "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
