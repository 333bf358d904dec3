#!/usr/bin/env python3
"""onnxruntime peer of gmvae's batch-1 classify, for latency comparison only (no test uses it).

Reads an exported model file (`.gmvae`, parsed here with `struct` per formats/SPEC.md, CRC
included), builds the same network as an ONNX graph with the `onnx` package, and times it in
onnxruntime with one intra-op and one inter-op thread. The graph is the whole classify:
encoder conv3x3 ReLU maxpool2, conv3x3 ReLU maxpool2, flatten, dense ReLU, dense -> z;
decoder dense ReLU, dense ReLU, reshape, nearest upsample x2 (Resize, asymmetric/floor, so
out[y][x] = in[y/2][x/2]), conv3x3 ReLU, upsample x2, conv3x3, sigmoid; then the nearest
class mean (ArgMin, ties to the lowest index), the squared Mahalanobis distance under that
class's precision matrix, the reconstruction error sum((x - g(z))^2) and both thresholds.

Verification, before timing:
  --check FILE  JSON written by `gmvae bench classify`: {"cases": [{"image": [...],
                "label", "latent": [...], "mahalanobis_sq", "reconstruction_error",
                "accepted"}, ...]} holding the Rust runtime's outputs. Each case must give
                the same label, the latent within 1e-4 relative (max |dz| <= 1e-4 * max |z|),
                the reconstruction error within 1e-4 relative, the Mahalanobis distance within
                1e-3 relative, and the same decision unless a score is within 1e-3 of its
                threshold. The first case's image is the one timed.
  (no --check)  The graph is compared the same way with an independent NumPy forward pass
                of the same weights on seeded random images, and a random image is timed.
A failed check exits with status 1 before anything is timed.

Run (onnx, onnxruntime and numpy live in the /opt/peer venv):
    /opt/peer/bin/python benches/peers/onnx_classify.py runs/demo/model.gmvae --runs 2000
Prints one JSON line on stdout.
"""

import argparse
import json
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from gmvae_file import read_model

LATENT_TOL = 1e-4
RECON_TOL = 1e-4
MAHALANOBIS_TOL = 1e-3


def fail(message):
    print(f"onnx_classify: {message}", file=sys.stderr)
    sys.exit(1)


def build_graph(sizes, calibration, t):
    """The classify graph: input x [1,C,H,W]; outputs z, label, mahalanobis_sq,
    reconstruction_error, accepted."""
    s = sizes
    flat = s["c2"] * (s["H"] // 4) * (s["W"] // 4)
    init = [numpy_helper.from_array(np.ascontiguousarray(v), name) for name, v in t.items()]

    def const(name, array):
        init.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    const("flat_shape", np.array([1, flat], np.int64))
    const("grid_shape", np.array([1, s["c2"], s["H"] // 4, s["W"] // 4], np.int64))
    const("scales", np.array([1, 1, 2, 2], np.float32))
    const("axis1", np.array([1], np.int64))
    const("tau_enc", np.array(calibration["tau_enc"], np.float32))
    const("tau_dec", np.array(calibration["tau_dec"], np.float32))
    n = helper.make_node
    conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    pool = dict(kernel_shape=[2, 2], strides=[2, 2])
    up = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    nodes = [
        n("Conv", ["x", "enc.conv1.weight", "enc.conv1.bias"], ["e1"], **conv),
        n("Relu", ["e1"], ["e1r"]),
        n("MaxPool", ["e1r"], ["e1p"], **pool),
        n("Conv", ["e1p", "enc.conv2.weight", "enc.conv2.bias"], ["e2"], **conv),
        n("Relu", ["e2"], ["e2r"]),
        n("MaxPool", ["e2r"], ["e2p"], **pool),
        n("Reshape", ["e2p", "flat_shape"], ["f"]),
        # Dense weights are input-major [in][out]: exactly Gemm's B without transB.
        n("Gemm", ["f", "enc.fc1.weight", "enc.fc1.bias"], ["h1"]),
        n("Relu", ["h1"], ["h1r"]),
        n("Gemm", ["h1r", "enc.fc2.weight", "enc.fc2.bias"], ["z"]),
        n("Gemm", ["z", "dec.fc1.weight", "dec.fc1.bias"], ["d1"]),
        n("Relu", ["d1"], ["d1r"]),
        n("Gemm", ["d1r", "dec.fc2.weight", "dec.fc2.bias"], ["d2"]),
        n("Relu", ["d2"], ["d2r"]),
        n("Reshape", ["d2r", "grid_shape"], ["g0"]),
        n("Resize", ["g0", "", "scales"], ["u1"], **up),
        n("Conv", ["u1", "dec.conv1.weight", "dec.conv1.bias"], ["c1"], **conv),
        n("Relu", ["c1"], ["c1r"]),
        n("Resize", ["c1r", "", "scales"], ["u2"], **up),
        n("Conv", ["u2", "dec.conv2.weight", "dec.conv2.bias"], ["c2"], **conv),
        n("Sigmoid", ["c2"], ["xhat"]),
        # Nearest class mean (Euclidean; ArgMin keeps the first minimum).
        n("Sub", ["z", "class_means"], ["zm"]),
        n("Mul", ["zm", "zm"], ["zm2"]),
        n("ReduceSum", ["zm2", "axis1"], ["dist"], keepdims=0),
        n("ArgMin", ["dist"], ["label"], axis=0, keepdims=0),
        # Squared Mahalanobis distance to that mean.
        n("Gather", ["class_means", "label"], ["mu"], axis=0),
        n("Gather", ["precisions", "label"], ["prec"], axis=0),
        n("Sub", ["z", "mu"], ["dz"]),
        n("MatMul", ["dz", "prec"], ["dzp"]),
        n("Mul", ["dzp", "dz"], ["dzpdz"]),
        n("ReduceSum", ["dzpdz"], ["mahalanobis_sq"], keepdims=0),
        # Reconstruction error and both thresholds.
        n("Sub", ["x", "xhat"], ["res"]),
        n("Mul", ["res", "res"], ["res2"]),
        n("ReduceSum", ["res2"], ["reconstruction_error"], keepdims=0),
        n("LessOrEqual", ["mahalanobis_sq", "tau_enc"], ["ok_enc"]),
        n("LessOrEqual", ["reconstruction_error", "tau_dec"], ["ok_dec"]),
        n("And", ["ok_enc", "ok_dec"], ["accepted"]),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, s["C"], s["H"], s["W"]])
    outputs = [
        helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, s["latent"]]),
        helper.make_tensor_value_info("label", TensorProto.INT64, []),
        helper.make_tensor_value_info("mahalanobis_sq", TensorProto.FLOAT, []),
        helper.make_tensor_value_info("reconstruction_error", TensorProto.FLOAT, []),
        helper.make_tensor_value_info("accepted", TensorProto.BOOL, []),
    ]
    graph = helper.make_graph(nodes, "gmvae_classify", [x], outputs, init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def numpy_classify(sizes, calibration, t, image):
    """An independent NumPy forward pass (the reference when no --check file is given)."""
    s = sizes

    def conv(x, w, b):
        c, h, wd = x.shape
        xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
        out = np.zeros((w.shape[0], h, wd), np.float64)
        for ky in range(3):
            for kx in range(3):
                out += np.einsum("oi,ihw->ohw", w[:, :, ky, kx], xp[:, ky:ky + h, kx:kx + wd])
        return out + b[:, None, None]

    def pool(x):
        c, h, w = x.shape
        return x.reshape(c, h // 2, 2, w // 2, 2).max(axis=(2, 4))

    relu = lambda v: np.maximum(v, 0)
    x = image.reshape(s["C"], s["H"], s["W"]).astype(np.float64)
    e = pool(relu(conv(x, t["enc.conv1.weight"], t["enc.conv1.bias"])))
    e = pool(relu(conv(e, t["enc.conv2.weight"], t["enc.conv2.bias"])))
    h = relu(e.reshape(-1) @ t["enc.fc1.weight"] + t["enc.fc1.bias"])
    z = h @ t["enc.fc2.weight"] + t["enc.fc2.bias"]
    d = relu(z @ t["dec.fc1.weight"] + t["dec.fc1.bias"])
    d = relu(d @ t["dec.fc2.weight"] + t["dec.fc2.bias"])
    g = d.reshape(s["c2"], s["H"] // 4, s["W"] // 4).repeat(2, axis=1).repeat(2, axis=2)
    g = relu(conv(g, t["dec.conv1.weight"], t["dec.conv1.bias"])).repeat(2, axis=1).repeat(2, axis=2)
    xhat = 1 / (1 + np.exp(-conv(g, t["dec.conv2.weight"], t["dec.conv2.bias"])))
    means = t["class_means"].astype(np.float64)
    label = int(np.argmin(((z - means) ** 2).sum(axis=1)))
    dz = z - means[label]
    m = float(dz @ t["precisions"][label].astype(np.float64) @ dz)
    r = float(((x - xhat) ** 2).sum())
    return {"label": label, "latent": z.tolist(), "mahalanobis_sq": m,
            "reconstruction_error": r,
            "accepted": m <= calibration["tau_enc"] and r <= calibration["tau_dec"]}


def run_graph(session, image, shape):
    z, label, m, r, accepted = session.run(None, {"x": image.reshape(shape)})
    return {"label": int(label), "latent": z.reshape(-1).tolist(), "mahalanobis_sq": float(m),
            "reconstruction_error": float(r), "accepted": bool(accepted)}


def compare(ours, ref, calibration, name):
    """Relative errors of ours vs ref; fails the run when out of tolerance."""
    z, zr = np.array(ours["latent"]), np.array(ref["latent"])
    rel_latent = float(np.abs(z - zr).max() / max(np.abs(zr).max(), 1e-12))
    rel = lambda a, b: abs(a - b) / max(abs(b), 1e-12)
    rel_recon = rel(ours["reconstruction_error"], ref["reconstruction_error"])
    rel_m = rel(ours["mahalanobis_sq"], ref["mahalanobis_sq"])
    near = (rel(ref["mahalanobis_sq"], calibration["tau_enc"]) < 1e-3
            or rel(ref["reconstruction_error"], calibration["tau_dec"]) < 1e-3)
    problems = []
    if ours["label"] != ref["label"]:
        problems.append(f"label {ours['label']} vs {ref['label']}")
    if rel_latent > LATENT_TOL:
        problems.append(f"latent relative error {rel_latent:.3g}")
    if rel_recon > RECON_TOL:
        problems.append(f"reconstruction error relative error {rel_recon:.3g}")
    if rel_m > MAHALANOBIS_TOL:
        problems.append(f"Mahalanobis relative error {rel_m:.3g}")
    if ours["accepted"] != ref["accepted"] and not near:
        problems.append(f"decision {ours['accepted']} vs {ref['accepted']}")
    if problems:
        fail(f"{name}: onnxruntime disagrees with the reference: " + "; ".join(problems))
    return rel_latent, rel_recon, rel_m


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="the .gmvae model file")
    parser.add_argument("--check", help="JSON of runtime outputs to verify against")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads")
    parser.add_argument("--seed", type=int, default=2019)
    parser.add_argument("--save-onnx", help="also write the graph to this path")
    args = parser.parse_args()

    try:
        sizes, calibration, tensors = read_model(args.model)
    except ValueError as e:
        fail(str(e))
    model = build_graph(sizes, calibration, tensors)
    if args.save_onnx:
        onnx.save(model, args.save_onnx)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    shape = (1, sizes["C"], sizes["H"], sizes["W"])
    pixels = int(np.prod(shape))

    if args.check:
        with open(args.check) as f:
            cases = json.load(f)["cases"]
        reference = "gmvae-runtime"
    else:
        rng = np.random.default_rng(args.seed)
        images = [rng.random(pixels, dtype=np.float32) for _ in range(4)]
        cases = [dict(numpy_classify(sizes, calibration, tensors, im), image=im.tolist())
                 for im in images]
        reference = "numpy"
    if not cases:
        fail("no cases to check")
    worst = [0.0, 0.0, 0.0]
    images = []
    for i, case in enumerate(cases):
        image = np.asarray(case["image"], np.float32)
        if image.size != pixels:
            fail(f"case {i}: {image.size} values, the model takes {pixels}")
        images.append(image.reshape(shape))
        errors = compare(run_graph(session, image, shape), case, calibration, f"case {i}")
        worst = [max(w, e) for w, e in zip(worst, errors)]

    # Timing: the first case's image, pre-bound so Python does no per-run conversion.
    x = ort.OrtValue.ortvalue_from_numpy(images[0])
    binding = session.io_binding()
    binding.bind_ortvalue_input("x", x)
    for name in ["z", "label", "mahalanobis_sq", "reconstruction_error", "accepted"]:
        binding.bind_output(name, "cpu")
    for _ in range(args.warmup):
        session.run_with_iobinding(binding)
    times = np.empty(args.runs)
    for i in range(args.runs):
        start = time.perf_counter_ns()
        session.run_with_iobinding(binding)
        times[i] = (time.perf_counter_ns() - start) / 1e6
    times.sort()
    print(json.dumps({
        "peer": "onnxruntime",
        "version": ort.__version__,
        "onnx": onnx.__version__,
        "threads": args.threads,
        "inter_op_threads": 1,
        "runs": args.runs,
        "warmup": args.warmup,
        "min_ms": float(times[0]),
        "median_ms": float(times[len(times) // 2]),
        "check": {
            "reference": reference,
            "cases": len(cases),
            "max_rel_latent": worst[0],
            "max_rel_reconstruction": worst[1],
            "max_rel_mahalanobis": worst[2],
        },
    }))


if __name__ == "__main__":
    main()
