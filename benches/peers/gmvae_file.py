"""Reads a gmvae model file (`.gmvae`, formats/SPEC.md sections 3-8) with `struct`, CRC
included, for the Python peers in this folder (`import gmvae_file`; Python puts a script's
own folder on its path)."""

import struct
import zlib

import numpy as np

MAGIC = b"\x89GMVAE\r\n"
TENSOR_NAMES = [
    "enc.conv1.weight", "enc.conv1.bias", "enc.conv2.weight", "enc.conv2.bias",
    "enc.fc1.weight", "enc.fc1.bias", "enc.fc2.weight", "enc.fc2.bias",
    "dec.fc1.weight", "dec.fc1.bias", "dec.fc2.weight", "dec.fc2.bias",
    "dec.conv1.weight", "dec.conv1.bias", "dec.conv2.weight", "dec.conv2.bias",
    "class_means", "precisions",
]


def read_model(path):
    """(sizes, calibration, tensors) of a .gmvae file; ValueError names what is wrong."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 68 or data[:8] != MAGIC:
        raise ValueError(f"{path} is not a gmvae model file")
    major, _minor, _header_len, file_len = struct.unpack_from("<HHIQ", data, 8)
    if major != 1 or file_len != len(data):
        raise ValueError(f"{path}: unsupported version {major} or bad length")
    (stored_crc,) = struct.unpack_from("<I", data, file_len - 4)
    if zlib.crc32(data[: file_len - 4]) != stored_crc:
        raise ValueError(f"{path}: CRC mismatch")
    arch_offset, arch_count, record_len, calib_offset = struct.unpack_from("<IHHI", data, 24)
    table_offset, table_count, entry_len = struct.unpack_from("<IHH", data, 48)
    if arch_count != 15 or table_count < 18:
        raise ValueError(f"{path}: unsupported architecture")

    def record(i):  # kind, activation, inputs, outputs, height, width
        return struct.unpack_from("<HHIIII", data, arch_offset + i * record_len)

    c_in, height, width = record(0)[2], record(0)[4], record(0)[5]
    sizes = {
        "C": c_in, "H": height, "W": width, "c1": record(1)[3], "c2": record(3)[3],
        "hidden": record(6)[3], "latent": record(7)[3],
    }
    classes, covariance, s2, tau_enc, tau_dec = struct.unpack_from("<IIfff", data, calib_offset)
    sizes["classes"] = classes
    tensors = {}
    for i, name in enumerate(TENSOR_NAMES):
        at = table_offset + i * entry_len
        tid, dtype, rank, _pad, d0, d1, d2, d3, offset, length = struct.unpack_from(
            "<HBBIIIIIQQ", data, at)
        dims = (d0, d1, d2, d3)[:rank]
        if tid != i or dtype != 1 or length != 4 * int(np.prod(dims)):
            raise ValueError(f"{path}: bad tensor table entry {i}")
        tensors[name] = np.frombuffer(data, "<f4", length // 4, offset).reshape(dims).astype(
            np.float32)
    calibration = {"covariance": covariance, "s2": s2, "tau_enc": tau_enc, "tau_dec": tau_dec}
    return sizes, calibration, tensors
