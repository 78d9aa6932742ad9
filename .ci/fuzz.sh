#!/usr/bin/env bash
# CI: build every fuzz target (fuzz/) and run each for a short while (FUZZ_SECONDS, 30 by default),
# starting from its committed seeds (fuzz/corpus/<target>). What a run learns goes to a scratch
# directory, never into the committed corpus. A crash (a panic or a failed property) fails the script
# and prints the input that caused it, in hex and as text, with the command that replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
seconds="${FUZZ_SECONDS:-30}"
# libFuzzer's random seed, fixed so that a run is repeatable (FUZZ_SEED=0 picks one at random).
seed="${FUZZ_SEED:-20261130}"

# cargo-fuzz needs a nightly compiler (sanitizers, -Z flags); the workspace pins a stable one.
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo +nightly install cargo-fuzz --locked
fi
# A CARGO_TARGET_DIR meant for the workspace must not redirect the fuzz build. The fuzz build lives
# outside the clone (FUZZ_TARGET_DIR), so that CI's fresh clone on the same machine rebuilds only what
# changed: a cold build takes minutes.
unset CARGO_TARGET_DIR
target_dir="${FUZZ_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cm-mcp/fuzz-target}"
# No AddressSanitizer: the fuzzed crates are safe Rust (a memory error cannot be what a target finds),
# and ASan forces one codegen unit, which made a cold build 24 min instead of 5.5 here. Panics and the
# targets' property assertions abort the run either way.
fuzz_flags=(--sanitizer none --target-dir "$target_dir")

started=$SECONDS
targets=$(cargo +nightly fuzz list)
echo "== building fuzz targets: $(echo $targets)"
cargo +nightly fuzz build "${fuzz_flags[@]}"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for target in $targets; do
    echo "== fuzzing $target for ${seconds}s (seed $seed)"
    mkdir -p "$scratch/$target" "fuzz/corpus/$target"
    artifacts="$scratch/artifacts/$target/"
    mkdir -p "$artifacts"
    dict=()
    [ -f "fuzz/dict/$target.dict" ] && dict=("-dict=fuzz/dict/$target.dict")
    # The first corpus directory receives new inputs (the scratch one); the committed seeds are read only.
    if ! cargo +nightly fuzz run "${fuzz_flags[@]}" "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -seed="$seed" -artifact_prefix="$artifacts" -print_final_stats=1 "${dict[@]}" \
        >"$scratch/$target.log" 2>&1; then
        tail -n 60 "$scratch/$target.log"
        for input in "$artifacts"*; do
            [ -f "$input" ] || continue
            echo "-- crashing input of $target ($input):"
            od -A x -t x1z -v "$input" | head -n 40
            echo "-- as text: $(head -c 2000 "$input" | cat -v)"
            mkdir -p fuzz/artifacts/"$target"
            cp "$input" fuzz/artifacts/"$target"/
            echo "-- replay: cargo +nightly fuzz run --sanitizer none --target-dir $target_dir $target fuzz/artifacts/$target/$(basename "$input")"
        done
        failed+=("$target")
    else
        grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done)' "$scratch/$target.log" || true
    fi
done

echo "== fuzzing took $((SECONDS - started))s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found crashes in: ${failed[*]}" >&2
    exit 1
fi
