#!/usr/bin/env bash
# The runtime on emulated microcontrollers, and its C interface on the host:
#
#   1. installs the toolchain from Debian (arm-none-eabi binutils and gcc, QEMU, and a Rust
#      compiler that knows the thumbv7 targets: bookworm-security's rustc-web, unpacked into
#      a private prefix because installing it would conflict with rustup);
#   2. builds the conformance and size firmware for thumbv7em-none-eabihf (Cortex-M4F,
#      hardware float) and thumbv7m-none-eabi (Cortex-M3, software float), and the size
#      firmware once more at opt-level "s";
#   3. runs each under QEMU (mps2-an386, mps2-an385) with -icount shift=0 (deterministic
#      instruction counts), with a timeout;
#   4. compares every printed bit with fixtures/golden/expected.json and reclassify.json
#      (compare.py), and checks that a deliberately altered expected value is caught;
#   5. builds the C interface as a static library, compiles the C example with the host gcc,
#      runs it and compares it the same way;
#   6. runs the paper-sized model (6.6 MB, from the boards' PSRAM) on both cores and the host
#      C example on the same model, and checks that all three print the same bits;
#   7. prints flash and RAM sections, instruction counts and stack depths, and writes them to
#      target/firmware/report.txt.
#
# Fails loudly (non-zero exit) when a package cannot be had, a build fails, QEMU times out or
# any bit differs. Run from anywhere: bash runtime/firmware/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/target/firmware"
mkdir -p "$out"
report="$out/report.txt"
: > "$report"

step() { printf '\n-- firmware: %s\n' "$*"; }
die() { echo "firmware: $*" >&2; exit 1; }
note() { echo "$*" | tee -a "$report"; }

# ---------------------------------------------------------------------------- toolchain
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

step "toolchain"
host_packages=(binutils-arm-none-eabi gcc-arm-none-eabi qemu-system-arm)
missing=()
for p in "${host_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
apt_updated=0
apt_update() {
    if [ "$apt_updated" -eq 0 ]; then
        as_root apt-get update -qq || die "apt-get update failed: the toolchain packages cannot be had"
        apt_updated=1
    fi
}
if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} by hand"
    apt_update
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null || die "cannot install ${missing[*]}"
fi

# rustc-web: the newest version in the archive, with its library packages of the same
# version (resolved now: bookworm-security moves).
prefix="$out/rustc-web"
if [ ! -x "$prefix/usr/bin/rustc" ]; then
    apt_update
    version="$(apt-cache madison rustc-web | awk '{print $3}' | sort -V | tail -1)"
    [ -n "$version" ] || die "no rustc-web package in the apt sources (Debian bookworm-security has it)"
    minor="$(echo "$version" | sed -E 's/^([0-9]+\.[0-9]+).*/\1/')"
    # The LLVM that rustc-web links against is a dependency of its standard library package.
    llvm="$(apt-cache show "libstd-rust-web-$minor=$version" | sed -n 's/^Depends: //p' \
        | tr ',' '\n' | sed -E 's/^ *([^ ]+).*/\1/' | grep '^libllvm' | head -1)"
    [ -n "$llvm" ] || die "cannot find the LLVM package libstd-rust-web-$minor $version depends on"
    dpkg -s "$llvm" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive as_root apt-get install \
        -y -qq --no-install-recommends "$llvm" >/dev/null || die "cannot install $llvm"
    debs="$out/debs"
    rm -rf "$debs" "$prefix.tmp"
    mkdir -p "$debs"
    (cd "$debs" && apt-get download -qq "rustc-web=$version" "rust-web-src=$version" \
        "libstd-rust-web-$minor=$version" "libstd-rust-web-dev=$version" \
        "rust-web-clippy=$version" 2>/dev/null) \
        || die "cannot download rustc-web $version, its library packages and its clippy"
    for deb in "$debs"/*.deb; do dpkg -x "$deb" "$prefix.tmp"; done
    mv "$prefix.tmp" "$prefix"
    rm -rf "$debs"
fi
export RUSTC="$prefix/usr/bin/rustc"
export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export RUSTC_BOOTSTRAP=1
"$RUSTC" --version | tee -a "$report" || die "the unpacked rustc does not run"
for t in thumbv7em-none-eabihf thumbv7m-none-eabi; do
    "$RUSTC" --print target-list | grep -qx "$t" || die "$RUSTC does not know $t"
done
# The firmware's own settings (.cargo/config.toml) carry the linker flags; flags from the
# environment would be added to them (GNU ld would see link.x twice).
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS

# ---------------------------------------------------------------------------- build
build_std=(-Zbuild-std=core -Zbuild-std-features=compiler-builtins-mem)
fw_target="$out/target"
step "lints (clippy of the same rustc, -D warnings)"
[ -x "$prefix/usr/bin/clippy-driver" ] || die "$prefix has no clippy-driver (remove $prefix to fetch it again)"
# What `cargo clippy` does: clippy-driver wraps rustc for the workspace's own crates.
(cd "$here" && RUSTC_WORKSPACE_WRAPPER="$prefix/usr/bin/clippy-driver" \
    CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__" \
    cargo check --release --target thumbv7em-none-eabihf "${build_std[@]}" \
    --target-dir "$out/clippy" --bins) || die "clippy found problems in the firmware"
step "build (first build compiles core: a few minutes)"
# From the firmware's directory: cargo reads .cargo/config.toml from the working directory.
fw_build() { (cd "$here" && cargo build "${build_std[@]}" --target-dir "$fw_target" "$@"); }
for t in thumbv7em-none-eabihf thumbv7m-none-eabi; do
    fw_build --release --target "$t" || die "build for $t failed"
done
fw_build --profile small --target thumbv7em-none-eabihf --bin size --bin baseline \
    || die "opt-level s build failed"

# ---------------------------------------------------------------------------- run
qemu() { # TARGET PROFILE BIN OUTPUT
    local machine cpu
    case "$1" in
        thumbv7em-none-eabihf) machine=mps2-an386 cpu=cortex-m4 ;;
        thumbv7m-none-eabi) machine=mps2-an385 cpu=cortex-m3 ;;
    esac
    rm -f "$4"
    timeout 600 qemu-system-arm -machine "$machine" -cpu "$cpu" -nographic -monitor none \
        -serial none -icount shift=0 \
        -chardev "file,id=semihost,path=$4" \
        -semihosting-config enable=on,target=native,chardev=semihost \
        -kernel "$fw_target/$1/$2/$3" || {
        local status=$?
        cat "$4" 2>/dev/null
        die "$3 ($1, $2) failed under QEMU (status $status; 124 is the timeout)"
    }
}

step "conformance under QEMU"
altered="$out/reclassify-altered.json"
# One bit of the expected reclassification changed: the comparison must fail on it.
python3 - "$root/fixtures/golden/reclassify.json" "$altered" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
bits = int(data["cases"][0]["mahalanobis_sq"], 16) ^ 1
data["cases"][0]["mahalanobis_sq"] = f"0x{bits:08x}"
json.dump(data, open(sys.argv[2], "w"))
EOF
for t in thumbv7em-none-eabihf thumbv7m-none-eabi; do
    log="$out/conformance-$t.txt"
    qemu "$t" release conformance "$log"
    python3 "$here/compare.py" firmware "$log" | tee -a "$report" \
        || die "$t: the firmware's results differ from the golden bits"
    if python3 "$here/compare.py" firmware "$log" --reclassify "$altered" >/dev/null; then
        die "compare.py accepted an altered expected value: the comparison is broken"
    fi
    note "  altered expected value detected: yes"
done

step "size firmware under QEMU"
for run in "thumbv7em-none-eabihf release size" "thumbv7m-none-eabi release size" \
           "thumbv7em-none-eabihf small size" "thumbv7em-none-eabihf small baseline"; do
    set -- $run
    log="$out/$3-$1-$2.txt"
    qemu "$1" "$2" "$3" "$log"
    if [ "$3" = size ] && ! grep -q "label=3 accepted=1" "$log"; then
        cat "$log"
        die "$3 ($1, $2) did not classify digit-3-a as an accepted 3"
    fi
    note "$(cat "$log") profile=$2"
done

# ---------------------------------------------------------------------------- C on the host
step "C example on the host"
cargo rustc --release --manifest-path "$root/Cargo.toml" -p gmvae-capi --features std \
    --crate-type staticlib || die "the C interface's static library did not build"
# Where cargo put it: the workspace's target/, or CARGO_TARGET_DIR when set (cargo reads a
# relative one from the current directory).
cargo_target="${CARGO_TARGET_DIR:-$root/target}"
case "$cargo_target" in /*) ;; *) cargo_target="$PWD/$cargo_target" ;; esac
lib="$cargo_target/release/libgmvae_capi.a"
exe="$out/c-example-host"
gcc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -I "$root/runtime/capi/include" \
    "$root/runtime/capi/c/host_main.c" "$root/runtime/capi/c/classify_golden.c" "$lib" \
    -lm -lpthread -ldl -o "$exe" || die "the C example did not compile"
"$exe" "$root/fixtures/golden/model.gmvae" "$root/fixtures/golden/inputs.f32le" 784 \
    > "$out/c-example-host.txt" || die "the C example failed"
python3 "$here/compare.py" c-host "$out/c-example-host.txt" | tee -a "$report" \
    || die "the host C example's results differ from the golden bits"
# The README's C snippet ("Use the runtime from C") compiles against the header as it is.
awk '/^## Use the runtime from C/ {on = 1} on && /^```c$/ {code = 1; next} code && /^```$/ {exit} code' \
    "$root/README.md" > "$out/readme-snippet.c"
[ -s "$out/readme-snippet.c" ] || die "no C snippet found in the README's \"Use the runtime from C\""
gcc -std=c99 -Wall -Wextra -Werror -pedantic -I "$root/runtime/capi/include" -c \
    "$out/readme-snippet.c" -o "$out/readme-snippet.o" || die "the README's C snippet does not compile"
note "README C snippet: compiles"

# ---------------------------------------------------------------------------- paper model
step "the paper-sized model (6.6 MB, in the boards' PSRAM) on both cores and on the host"
paper_model="$root/fixtures/models/mnist-quantile.gmvae"
for t in thumbv7em-none-eabihf thumbv7m-none-eabi; do
    log="$out/paper-$t.txt"
    qemu "$t" release paper "$log"
    grep -q '^done$' "$log" || { cat "$log"; die "paper ($t) stopped early"; }
    note "$(head -1 "$log")"
    note "  classify instructions: $(awk '$1 == "paper-classify" {for (i = 2; i <= NF; i++) if ($i ~ /^instructions=/) {sub("instructions=", "", $i); print $i}}' "$log" | sort -n | sed -n '1p;$p' | paste -sd '-') (min-max over 24 inputs)"
done
"$exe" "$paper_model" "$root/fixtures/golden/inputs.f32le" 784 > "$out/paper-host.txt" \
    || die "the C example failed on the paper-sized model"
python3 "$here/compare.py" agree "$out/paper-thumbv7em-none-eabihf.txt" \
    "$out/paper-thumbv7m-none-eabi.txt" "$out/paper-host.txt" | tee -a "$report" \
    || die "the paper-sized model's verdicts differ between the cores and the host"

# ---------------------------------------------------------------------------- sizes
step "sections (bytes)"
for build in "thumbv7em-none-eabihf release size" "thumbv7m-none-eabi release size" \
             "thumbv7em-none-eabihf small size" "thumbv7em-none-eabihf release baseline" \
             "thumbv7em-none-eabihf small baseline" "thumbv7m-none-eabi release baseline" \
             "thumbv7em-none-eabihf release conformance" "thumbv7em-none-eabihf release paper"; do
    set -- $build
    elf="$fw_target/$1/$2/$3"
    sections="$(arm-none-eabi-size -A "$elf" | awk '$1 ~ /^\.(vector_table|text|rodata|data|bss|psram)$/ {printf "%s=%s ", $1, $2}')"
    note "$3 $1 $2: $sections"
done
text_of() { arm-none-eabi-size -A "$fw_target/$1/$2/$3" | awk '$1 == ".text" {print $2}'; }
for build in "thumbv7em-none-eabihf release" "thumbv7em-none-eabihf small" "thumbv7m-none-eabi release"; do
    set -- $build
    note "runtime code (parse + classify) $1 $2: .text $(( $(text_of "$1" "$2" size) - $(text_of "$1" "$2" baseline) )) bytes (size − baseline)"
done
echo
echo "firmware: all checks passed (report: $report)"
