#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and exits non-zero if any of them finds a crash.
#
#   FUZZ_SECONDS   seconds per target (default 20)
#   FUZZ_TARGETS   space-separated targets to run (default: all of `cargo fuzz list`)
#   FUZZ_SANITIZER cargo-fuzz sanitizer (default none; address also works, at twice the build time)
#   CARGO_TARGET_DIR  if set, the instrumented build goes to "$CARGO_TARGET_DIR/fuzz", apart from
#                  ordinary builds, whose flags differ
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a C++ compiler; works on a stable toolchain
# (see docs/fuzzing.md).
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"
# cargo-fuzz passes unstable -Z and -C flags to rustc; this lets a stable toolchain accept them.
export RUSTC_BOOTSTRAP=1
# No AddressSanitizer by default: the framers are safe Rust, so coverage-guided fuzzing with the
# debug assertions cargo-fuzz enables by default is what finds their bugs, and it builds faster.
args=(--sanitizer "${FUZZ_SANITIZER:-none}")
if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
    args+=(--target-dir "$CARGO_TARGET_DIR/fuzz")
fi
read -r -a targets <<< "${FUZZ_TARGETS:-$(cargo fuzz list | tr '\n' ' ')}"

log_dir="$(mktemp -d)"
trap 'rm -rf "$log_dir"' EXIT
failed=()
for target in "${targets[@]}"; do
    log="$log_dir/$target.log"
    if cargo fuzz run "${args[@]}" "$target" -- -max_total_time="$seconds" >"$log" 2>&1; then
        echo "ok    $target: $(grep -E '^Done [0-9]+ runs' "$log" || echo 'finished')"
    else
        echo "FAIL  $target"
        # The panic message, the saved input and how to reproduce it; the whole log if no panic
        # (a build error, say).
        if grep -q 'panicked at' "$log"; then
            grep -A3 'panicked at' "$log" | cut -c1-400
            grep -E 'Test unit written to|^\s+cargo fuzz run' "$log"
        else
            grep -vE '^\s+(Compiling|Checking)' "$log" | tail -n 40
        fi
        failed+=("$target")
    fi
done
if ((${#failed[@]})); then
    echo "fuzz smoke failed: ${failed[*]}"
    exit 1
fi
echo "fuzz smoke passed: ${#targets[@]} targets, ${seconds}s each"
