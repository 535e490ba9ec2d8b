#!/usr/bin/python3
"""Writes the safetensors fixtures for tests/frontend/io/safetensors_test.c.

Debian 12 packages neither the `safetensors` Python module nor a torch that can write the
format, so this script builds the bytes by the format's specification with struct + json only
(the standard library of /usr/bin/python3), laid out the way the reference writer
(huggingface/safetensors, tensor.rs `prepare`) lays them out: tensors sorted by dtype (the
reference's enum order, largest first) then name, data contiguous in that order, the header
compact JSON with `__metadata__` first and tensors in data order, padded with spaces to a
multiple of 8 bytes.

Outputs (in tests/fixtures/io/ unless a folder is given):
  reference.safetensors  every dtype vkft reads, 0-d and empty tensors, F16/BF16 edge values
                         (subnormals, largest finite, inf, NaN, -0), metadata
                         {"format": "pt", "vkft_fixture": "safetensors-v1"}
  reference_expected.json  per float tensor, the f32 bit patterns its values convert to,
                         computed here with struct's IEEE half ('e') and bf16 = bits << 16,
                         independently of the C conversion under test
  unaligned.safetensors  an older-writer layout: header not padded, a 3-byte U8 tensor before
                         an F32 one, so the F32 data is not 4-byte aligned

Run: /usr/bin/python3 tools/gen_safetensors_fixture.py [out_dir]
"""
import json
import os
import struct
import sys

# The reference's Dtype enum order (BOOL < U8 < I8 < ... < F64 < I64 < U64); sorted descending.
DTYPE_RANK = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32",
              "U32", "F32", "F64", "I64", "U64"]
FMT = {"F32": "f", "F64": "d", "I64": "q", "I32": "i", "I16": "h", "I8": "b", "U8": "B",
       "BOOL": "?", "F16": "H", "BF16": "H"}  # F16/BF16 given as raw 16-bit patterns


def pack(dtype, values):
    return struct.pack("<%d%s" % (len(values), FMT[dtype]), *values)


def safetensors_bytes(tensors, metadata, pad=True, order=None):
    """tensors: {name: (dtype, shape, values)}; order: names in data order (default: the
    reference writer's)."""
    if order is None:
        order = sorted(tensors, key=lambda n: (-DTYPE_RANK.index(tensors[n][0]), n))
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in order:
        dtype, shape, values = tensors[name]
        count = 1
        for d in shape:
            count *= d
        assert count == len(values), name
        blob = pack(dtype, values)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def f32_bits(x):
    """Bits of x rounded to f32 (to nearest; past the f32 range: infinity)."""
    try:
        return struct.unpack("<I", struct.pack("<f", x))[0]
    except OverflowError:
        return 0x7F800000 | (0x80000000 if x < 0 else 0)


def half_to_f32_bits(h):
    return f32_bits(struct.unpack("<e", struct.pack("<H", h))[0])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "fixtures",
                                                             "io")
    os.makedirs(out, exist_ok=True)

    # F16: smallest subnormal, largest subnormal, smallest normal, 1, 1/3 (rounded), largest
    # finite, inf, -inf, quiet NaN, -0, -2.5, a mid subnormal.
    f16 = [0x0001, 0x03FF, 0x0400, 0x3C00, 0x3555, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0x8000,
           0xC100, 0x0155]
    # BF16: smallest subnormal, smallest normal, 1, largest finite, inf, -inf, NaN, -0, -2.5,
    # pi (rounded).
    bf16 = [0x0001, 0x0080, 0x3F80, 0x7F7F, 0x7F80, 0xFF80, 0x7FC0, 0x8000, 0xC020, 0x4049]
    f32 = [0.0, -1.5, 3.25, 1e-45, 3.4028234663852886e38, 100.0]
    f64 = [0.1, -2.0, 1e300, 5e-324]
    tensors = {
        "model.embed_tokens.weight": ("F32", [2, 3], f32),
        "model.norm.weight": ("F16", [12], f16),
        "lm_head.weight": ("BF16", [2, 5], bf16),
        "scale.f64": ("F64", [4], f64),
        "ids.i64": ("I64", [2, 2], [-(2 ** 63), 2 ** 63 - 1, 0, -1]),
        "ids.i32": ("I32", [3], [-(2 ** 31), 2 ** 31 - 1, 7]),
        "ids.i16": ("I16", [2], [-32768, 32767]),
        "ids.i8": ("I8", [2], [-128, 127]),
        "bytes.u8": ("U8", [1, 3], [0, 128, 255]),
        "mask.bool": ("BOOL", [2], [True, False]),
        "scalar": ("F32", [], [42.0]),
        "empty": ("F32", [0, 4], []),
    }
    meta = {"format": "pt", "vkft_fixture": "safetensors-v1"}
    with open(os.path.join(out, "reference.safetensors"), "wb") as f:
        f.write(safetensors_bytes(tensors, meta))

    expected = {
        "vkft_fixture": "safetensors-v1",
        "model.embed_tokens.weight": [f32_bits(x) for x in f32],
        "model.norm.weight": [half_to_f32_bits(h) for h in f16],
        "lm_head.weight": [h << 16 for h in bf16],
        "scale.f64": [f32_bits(x) for x in f64],
        "scalar": [f32_bits(42.0)],
        "empty": [],
    }
    with open(os.path.join(out, "reference_expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")

    # Older writers: name order, no padding; "a" (U8, 3 bytes) first puts "b" (F32) at an odd
    # address.
    small = {"a": ("U8", [3], [1, 2, 3]), "b": ("F32", [2], [1.5, -2.0])}
    with open(os.path.join(out, "unaligned.safetensors"), "wb") as f:
        f.write(safetensors_bytes(small, None, pad=False, order=["a", "b"]))


if __name__ == "__main__":
    main()
