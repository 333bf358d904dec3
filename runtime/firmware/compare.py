#!/usr/bin/env python3
"""Checks what the firmware (or the host C example) printed against the golden fixtures, bit
for bit, and prints a one-line summary with the instruction counts and stack depths.

    compare.py firmware OUTPUT [--expected F] [--reclassify F]   # conformance firmware
    compare.py c-host OUTPUT [--expected F]                      # host C example
    compare.py agree OUTPUT OUTPUT...                            # the same verdicts

`agree` checks that several programs (the paper-model firmware on each core, the host C
example on the same model) printed the same label, decision and distance bits for every
input: the cross-platform check for a model without golden files.

Exit status 0 when every expected case is present and every field has the expected bits,
1 with one line per difference otherwise, 2 for unreadable input.
"""

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "fixtures" / "golden"

# The settings the firmware reclassifies with: ReclassifySettings::DEFAULT with 25 steps.
# reclassify.json must hold exactly these, or the comparison would be meaningless.
FIRMWARE_RECLASSIFY_SETTINGS = {
    "steps": 25,
    "learning_rate": "0x3d4ccccd",
    "beta1": "0x3f666666",
    "beta2": "0x3f7fbe77",
    "epsilon": "0x322bcc77",
    "early_stop_tolerance": "0x00000000",
    "reject_fooling": True,
    "confine_to_class": False,
    "confine_fraction": "0x3f800000",
}


def parse_lines(text):
    """Lines `KIND INDEX key=value ...` (and `KIND key=value ...`) as (kind, index, fields)."""
    records = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        kind = words[0]
        index = None
        rest = words[1:]
        if rest and "=" not in rest[0]:
            index = rest[0]
            rest = rest[1:]
        fields = dict(w.split("=", 1) for w in rest if "=" in w)
        records.append((kind, index, fields))
    return records


def flag(value):
    return "1" if value else "0"


def verdict_fields(case, with_latent):
    fields = {
        "label": str(case["label"]),
        "accepted": flag(case["accepted"]),
        "rejected_latent": flag(case["rejected_latent"]),
        "rejected_reconstruction": flag(case["rejected_reconstruction"]),
        "mahalanobis_sq": case["mahalanobis_sq"],
        "reconstruction_error": case["reconstruction_error"],
    }
    if with_latent:
        fields["latent"] = ",".join(case["latent"])
    return fields


def reclassify_fields(case):
    return {
        "label": str(case["label"]),
        "start": str(case["start"]),
        "accepted": flag(case["accepted"]),
        "passes_thresholds": flag(case["passes_thresholds"]),
        "mahalanobis_sq": case["mahalanobis_sq"],
        "reconstruction_error": case["reconstruction_error"],
        "latent": ",".join(case["latent"]),
        "start_losses": ",".join(case["start_losses"]),
        "start_steps": ",".join(str(s) for s in case["start_steps"]),
    }


def check(kind, records, cases, expected_of, differences, only=None):
    """Compares every `kind` record with its case; every case (or those in `only`) must
    appear exactly once."""
    seen = {}
    for k, index, fields in records:
        if k != kind:
            continue
        if index in seen:
            differences.append(f"{kind} {index}: printed twice")
        seen[index] = fields
    wanted = range(len(cases)) if only is None else only
    for i in wanted:
        got = seen.get(str(i))
        if got is None:
            differences.append(f"{kind} {i}: missing from the output")
            continue
        for key, value in expected_of(cases[i]).items():
            if got.get(key) != value:
                differences.append(
                    f"{kind} {i} ({cases[i]['name']}): {key} is {got.get(key)}, expected {value}"
                )
    extra = set(seen) - {str(i) for i in wanted}
    for index in sorted(extra):
        differences.append(f"{kind} {index}: not an expected case")
    return len(wanted)


AGREE_KINDS = ("paper-classify", "c-example")
AGREE_FIELDS = ("label", "accepted", "mahalanobis_sq", "reconstruction_error")


def agree(paths):
    """Exit status of `compare.py agree`: 0 when every file has the same verdicts."""
    verdicts = []
    for path in paths:
        try:
            records = parse_lines(path.read_text())
        except (OSError, ValueError) as e:
            print(f"compare.py: {e}", file=sys.stderr)
            return 2
        verdicts.append({
            index: tuple(fields.get(k) for k in AGREE_FIELDS)
            for kind, index, fields in records if kind in AGREE_KINDS
        })
    differences = []
    reference = verdicts[0]
    if not reference:
        differences.append(f"{paths[0]}: no verdicts")
    for path, other in zip(paths[1:], verdicts[1:]):
        for index in sorted(set(reference) | set(other), key=int):
            if reference.get(index) != other.get(index):
                differences.append(
                    f"input {index}: {paths[0].name} {reference.get(index)} but "
                    f"{path.name} {other.get(index)}"
                )
    if differences:
        for d in differences:
            print(f"DIFFERENT: {d}")
        return 1
    names = ", ".join(p.name for p in paths)
    print(f"compare.py: {len(reference)} verdicts, every bit the same in {names}")
    return 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "agree":
        if len(sys.argv) < 4:
            print("usage: compare.py agree OUTPUT OUTPUT...", file=sys.stderr)
            return 2
        return agree([pathlib.Path(p) for p in sys.argv[2:]])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["firmware", "c-host"])
    parser.add_argument("output", type=pathlib.Path)
    parser.add_argument("--expected", type=pathlib.Path, default=GOLDEN / "expected.json")
    parser.add_argument("--reclassify", type=pathlib.Path, default=GOLDEN / "reclassify.json")
    args = parser.parse_args()
    try:
        records = parse_lines(args.output.read_text())
        expected = json.loads(args.expected.read_text())
        reclassify = json.loads(args.reclassify.read_text())
    except (OSError, ValueError) as e:
        print(f"compare.py: {e}", file=sys.stderr)
        return 2

    differences = []
    cases = expected["cases"]
    counts = {}
    errors = [r for r in records if r[0] == "error"]
    for _, index, fields in errors:
        differences.append(f"the program reported an error: {index} {fields}")
    counts["c-example"] = check(
        "c-example", records, cases, lambda c: verdict_fields(c, False), differences
    )
    summary = {}
    if args.mode == "firmware":
        counts["classify"] = check(
            "classify", records, cases, lambda c: verdict_fields(c, True), differences
        )
        settings = reclassify["settings"]
        if settings != FIRMWARE_RECLASSIFY_SETTINGS:
            differences.append(
                f"{args.reclassify} has settings {settings}, the firmware runs "
                f"{FIRMWARE_RECLASSIFY_SETTINGS}"
            )
        reclassified = [int(i) for k, i, _ in records if k == "reclassify"]
        if not reclassified:
            differences.append("reclassify: no reclassification in the output")
        counts["reclassify"] = check(
            "reclassify",
            records,
            reclassify["cases"],
            reclassify_fields,
            differences,
            only=reclassified,
        )
        if not any(k == "done" for k, _, _ in records):
            differences.append("the output does not end with `done` (the program stopped early)")
        for k, _, fields in records:
            if k in ("firmware", "parse", "reclassify", "c-example-total", "classify-stack"):
                summary.update({f"{k}.{key}": v for key, v in fields.items()
                                if key in ("target", "instructions", "stack", "deepest")})
        classify_counts = [int(f["instructions"]) for k, _, f in records
                           if k == "classify" and "instructions" in f]
        if classify_counts:
            summary["classify.instructions.min"] = min(classify_counts)
            summary["classify.instructions.max"] = max(classify_counts)

    if differences:
        for d in differences:
            print(f"DIFFERENT: {d}")
        print(f"compare.py: {len(differences)} difference(s) in {args.output}")
        return 1
    checked = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    print(f"compare.py: {args.output}: {checked}: every bit as expected")
    for key, value in summary.items():
        print(f"  {key} = {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
