#!/usr/bin/env bash
# Builds the libFuzzer targets (stable Rust, sanitizer coverage) and runs each for a fixed
# time on a fresh copy of its seed corpus; fails on any crash, timeout or out-of-memory.
#
#   tests/fuzz/run.sh [TARGET...]      (default: every target, in turn)
#
# FUZZ_SECONDS: seconds per target (default 60). FUZZ_ARGS: more libFuzzer flags, e.g.
# "-jobs=2 -workers=2". A failing input is kept in tests/fuzz/artifacts/TARGET/ and printed
# in base64; README.md says how to reproduce it. CI runs this at the end of .ci/run.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# Its own directory under the caller's target directory: the instrumented build must not
# mix with the main one (a relative CARGO_TARGET_DIR is taken from the caller's directory).
target_dir="$(realpath -m "${CARGO_TARGET_DIR:-$root/target}")/fuzz"
seconds="${FUZZ_SECONDS:-60}"
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=(model_runtime model_fixed_up idx png); fi
cd "$here"

# libfuzzer-sys compiles libFuzzer's C++ sources with the system compiler.
if ! command -v c++ >/dev/null; then
    echo "no C++ compiler: installing g++"
    apt-get update -qq && apt-get install -y -qq g++ >/dev/null
fi

echo "building the fuzz targets (sanitizer coverage, release) in $target_dir"
start=$SECONDS
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks" \
    CARGO_TARGET_DIR="$target_dir" cargo build --release --target x86_64-unknown-linux-gnu
echo "built in $((SECONDS - start)) s"
bin="$target_dir/x86_64-unknown-linux-gnu/release"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=()
total=0
for t in "${targets[@]}"; do
    [ -d "corpus/$t" ] || { echo "unknown target $t (no corpus/$t)"; exit 2; }
    corpus="$work/$t"
    mkdir -p "$corpus" "artifacts/$t"
    cp corpus/"$t"/* "$corpus/"
    # The real model (425 KB, not committed twice), and for the target that does not repair
    # the CRC its deliberately broken copies (after a repair they mostly equal the golden
    # model again, and slow the target down; the tiny seeds have every corruption).
    case "$t" in
        model_runtime) cp "$root/fixtures/golden/model.gmvae" "$root"/fixtures/broken/*.gmvae "$corpus/" ;;
        model_fixed_up) cp "$root/fixtures/golden/model.gmvae" "$corpus/" ;;
    esac
    log="$work/$t.log"
    touch "$work/$t.start"
    code=0
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    "$bin/$t" "$corpus" -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$here/artifacts/$t/" ${FUZZ_ARGS:-} \
        >"$log" 2>&1 || code=$?
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    if [ "$code" -ne 0 ]; then
        tail -n 60 "$log"
        echo "FAILED: $t (exit $code) after ${execs:-?} executions"
        find "artifacts/$t" -type f -newer "$work/$t.start" | while read -r f; do
            echo "input $here/$f ($(stat -c %s "$f") bytes), base64 (first 64 KiB):"
            head -c 65536 "$f" | base64
        done
        failed+=("$t")
    else
        grep -E '^#[0-9]+[[:space:]]+DONE' "$log" || true
        echo "$t: $execs executions in ${seconds} s"
        total=$((total + execs))
    fi
done
echo "fuzzing: $total executions in all"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz targets failed: ${failed[*]}"
    exit 1
fi
