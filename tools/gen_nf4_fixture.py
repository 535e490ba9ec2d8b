#!/usr/bin/python3
"""NF4 reference fixture for tests/backend/ops/nf4_test.c, and the constant tables of
backend/ops/nf4_codebook.h and shaders/nf4.glsl.

bitsandbytes is not installable here, so this script re-implements, in torch (Debian's
python3-torch), the algorithm of bitsandbytes' default (torch) backend as read in
bitsandbytes-foundation/bitsandbytes at commit 95f9af30 (bitsandbytes/functional.py:
get_4bit_type('nf4'), create_dynamic_map, quantize_4bit(compress_statistics=True),
quantize_blockwise; bitsandbytes/backends/default/ops.py: the quantize_4bit,
quantize_blockwise, dequantize_4bit and dequantize_blockwise kernels):
  - 64-element blocks over the flattened tensor; absmax per block; the last block may be
    partial. Full blocks scale by x * (1 / max(absmax, 1e-38)), the partial one by
    x / max(absmax, 1e-38); clamp to [-1, 1]; torch.bucketize against the midpoints of the
    sorted code (right=False: a value exactly on a midpoint takes the lower code); two codes
    per byte, the first in the high nibble.
  - double quantisation: offset = mean of the absmax values; (absmax - offset) quantised with
    the same blockwise rule in blocks of 256 to the signed dynamic map.
One deliberate difference, documented in nf4_codebook.h: the offset is the f32 sum of the
absmax values in a fixed order (each run of 256 summed left to right, then the run sums left to
right) divided by their count, so that vkft's CPU and Vulkan kernels agree bit for bit; torch's
mean() sums in its own (vectorised) order and may differ in the last bits (printed below).

Usage:
  gen_nf4_fixture.py            writes tests/fixtures/nf4/nf4_ref.bin
  gen_nf4_fixture.py --tables   prints the C and GLSL tables (pasted into the two files)

Fixture format (little-endian): magic b"VKFTNF4\\0", u32 version (1), u32 numel, u32 nb,
u32 nb2, then f32 dynamic_map[256], f32 w[numel] (the input), u8 codes[numel/2],
u8 absmax_q[nb], f32 absmax2[nb2], f32 offset, f32 dequantised[numel].
"""
import os
import struct
import sys

import torch

MAGIC = b"VKFTNF4\0"
VERSION = 1

NF4 = torch.tensor([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0], dtype=torch.float32)


def dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):
    """bitsandbytes' create_dynamic_map: for each exponent i (0..max_exponent_bits-1), the
    midpoints of an f32 linspace(0.1, 1, 2^(i + non_sign_bits - max_exponent_bits) + 1) scaled
    by 10^(i - max_exponent_bits + 1), with both signs; plus 0 and 1.0; sorted."""
    non_sign_bits = total_bits - 1
    values = []
    for i in range(max_exponent_bits):
        items = 2 ** (i + non_sign_bits - max_exponent_bits) + 1 if signed else \
            2 ** (i + non_sign_bits - max_exponent_bits + 1) + 1
        b = torch.linspace(0.1, 1, items, dtype=torch.float32)
        mid = (b[:-1] + b[1:]) / 2.0
        scale = 10 ** (-(max_exponent_bits - 1) + i)
        values += (scale * mid).tolist()
        if signed:
            values += (-scale * mid).tolist()
    extra = 2 ** (non_sign_bits - max_exponent_bits) - 1
    assert extra == 0  # true for the (7, 8) map used by NF4's double quantisation
    values += [0.0, 1.0]
    assert len(values) == 2 ** total_bits
    values.sort()
    return torch.tensor(values, dtype=torch.float32)


def blockwise(x, code, blocksize):
    """The default backend's quantize_blockwise / quantize_4bit core: (indices, absmax)."""
    n = x.numel()
    rem = n % blocksize
    full = n - rem
    xc = x[:full].reshape(-1, blocksize)
    absmax = xc.abs().max(dim=-1)[0]
    scaled = torch.clamp(xc * (1.0 / absmax.clamp(min=1e-38).view(-1, 1)), -1, 1).reshape(-1)
    if rem:
        am = x[full:].abs().max().clamp(min=1e-38)
        absmax = torch.cat([absmax, am.unsqueeze(0)])  # stored clamped, as bitsandbytes does
        scaled = torch.cat([scaled, torch.clamp(x[full:] / am, -1, 1)])
    bounds = (code[:-1] + code[1:]) / 2
    return torch.bucketize(scaled, bounds, out_int32=True), absmax


def fixed_order_mean(v):
    run_sums = []
    for r0 in range(0, v.numel(), 256):
        s = torch.zeros((), dtype=torch.float32)
        for x in v[r0:r0 + 256]:
            s = s + x
        run_sums.append(s)
    total = torch.zeros((), dtype=torch.float32)
    for s in run_sums:
        total = total + s
    return total / torch.tensor(float(v.numel()), dtype=torch.float32)


def quantize_nf4(w):
    q, absmax = blockwise(w, NF4, 64)
    q = q.to(torch.uint8)
    codes = (q[0::2] << 4) | q[1::2]
    offset = fixed_order_mean(absmax)
    print(f"offset {offset.item():.9g}, torch mean {absmax.mean().item():.9g}", file=sys.stderr)
    dyn = dynamic_map()
    q2, absmax2 = blockwise(absmax - offset, dyn, 256)
    return codes, q2.to(torch.uint8), absmax2, offset


def dequantize_nf4(codes, absmax_q, absmax2, offset, numel):
    dyn = dynamic_map()
    blk = torch.arange(absmax_q.numel()) // 256
    absmax = dyn[absmax_q.long()] * absmax2[blk] + offset
    q = torch.empty(codes.numel() * 2, dtype=torch.long)
    q[0::2] = (codes >> 4).long()
    q[1::2] = (codes & 15).long()
    return NF4[q[:numel]] * absmax[torch.arange(numel) // 64]


def fixture_input(numel):
    """Exactly representable inputs from integer arithmetic (the test can rebuild them too):
    24-bit LCG fractions in [-0.5, 0.5) times a power of two that varies per block, one all-zero
    block, and a few values exactly on NF4 codes."""
    state = 12345
    w = []
    for i in range(numel):
        state = (state * 1103515245 + 12345) % 2 ** 31
        frac = ((state >> 7) & 0xFFFFFF) / 2.0 ** 24 - 0.5
        w.append(frac * 2.0 ** ((i // 64) % 7 - 3))
    w = torch.tensor(w, dtype=torch.float32)
    w[128:192] = 0.0
    w[192:208] = NF4 * 0.75
    return w


def print_tables():
    dyn = dynamic_map()
    nf4_bounds = (NF4[:-1] + NF4[1:]) / 2
    dyn_bounds = (dyn[:-1] + dyn[1:]) / 2

    def bits(t):
        return [struct.unpack("<I", struct.pack("<f", v))[0] for v in t.tolist()]

    for name, t in (("NF4", NF4), ("NF4_BOUNDS", nf4_bounds), ("DYN", dyn),
                    ("DYN_BOUNDS", dyn_bounds)):
        words = [f"0x{b:08x}u" for b in bits(t)]
        print(f"/* {name} [{len(words)}] */")
        for i in range(0, len(words), 7):
            print("    " + ", ".join(words[i:i + 7]) + ",")


def main():
    if "--tables" in sys.argv:
        print_tables()
        return
    numel = 64 * 257 + 6  # 258 blocks: a partial 64-block and a partial 256-block of absmax
    w = fixture_input(numel)
    codes, absmax_q, absmax2, offset = quantize_nf4(w)
    deq = dequantize_nf4(codes, absmax_q, absmax2, offset, numel)
    nb, nb2 = absmax_q.numel(), absmax2.numel()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                        "nf4", "nf4_ref.bin")
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<4I", VERSION, numel, nb, nb2))
        f.write(dynamic_map().numpy().astype("<f4").tobytes())
        f.write(w.numpy().astype("<f4").tobytes())
        f.write(codes.numpy().tobytes())
        f.write(absmax_q.numpy().tobytes())
        f.write(absmax2.numpy().astype("<f4").tobytes())
        f.write(offset.reshape(1).numpy().astype("<f4").tobytes())
        f.write(deq.numpy().astype("<f4").tobytes())
    print(f"wrote {path}: numel {numel}, nb {nb}, nb2 {nb2}", file=sys.stderr)


if __name__ == "__main__":
    main()
