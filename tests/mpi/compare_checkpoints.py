#!/usr/bin/env python3
"""Compares every tensor of two gradc safetensors checkpoints (stdlib only).

usage: compare_checkpoints.py A B [--rtol R] [--exact]
Exits 1 when a tensor is missing, a shape differs, a tensor's normwise relative difference
|a-b|/|a| exceeds rtol, or an element differs by more than 10·rtol times its tensor's largest
magnitude (elementwise against the element itself is not a usable bar: RMSprop divides tiny
gradients, whose low bits are set by the order of a float sum, by their own root mean square;
--exact: any bit differs). Prints both figures per tensor."""
import math
import json, struct, sys


def load(path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, t in header.items():
        if name == '__metadata__':
            continue
        lo, hi = t['data_offsets']
        out[name] = (t['shape'], data[lo:hi])
    return out


def main():
    args = sys.argv[1:]
    rtol, exact = 1e-5, False
    if '--rtol' in args:
        i = args.index('--rtol'); rtol = float(args[i + 1]); del args[i:i + 2]
    if '--exact' in args:
        args.remove('--exact'); exact = True
    a, b = load(args[0]), load(args[1])
    bad = 0
    if set(a) != set(b):
        print('tensor names differ:', sorted(set(a) ^ set(b)))
        return 1
    worst = (0.0, '')
    for name in sorted(a):
        (sa, da), (sb, db) = a[name], b[name]
        if sa != sb:
            print(f'{name}: shape {sa} vs {sb}'); bad += 1; continue
        if exact:
            if da != db:
                print(f'{name}: not bit-identical'); bad += 1
            continue
        n = len(da) // 4
        va, vb = struct.unpack(f'<{n}f', da), struct.unpack(f'<{n}f', db)
        scale = max(max(abs(x) for x in va), 1e-30)
        dmax = max(abs(x - y) for x, y in zip(va, vb))
        norm = math.sqrt(sum((x - y) ** 2 for x, y in zip(va, vb))) / max(math.sqrt(sum(x * x for x in va)), 1e-30)
        print(f'  {name:28s} max|diff|/max|a| {dmax / scale:.2e}  |a-b|/|a| {norm:.2e}')
        if dmax / scale > worst[0]:
            worst = (dmax / scale, name)
        if norm > rtol or dmax > 10 * rtol * scale:
            bad += 1
            print(f'  {name}: outside')
    what = 'bit-identical' if exact else f'|a-b|/|a| <= {rtol:g} and every element within {10 * rtol:g} of its tensor scale'
    print(f'{len(a)} tensors, {bad} outside; largest elementwise difference {worst[0]:.3g} of the scale '
          f'({worst[1]}); bar: {what}')
    return 1 if bad else 0


sys.exit(main())
