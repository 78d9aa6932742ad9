#!/usr/bin/env bash
# Builds my-service and bare-rmcp against rmcp 3.11.0 with proposed patches applied, without touching
# the workspace's manifests: the registry's rmcp source is copied to .bench/rmcp-patched/rmcp-3.11.0,
# the patches are applied there (paths relative to the rmcp crate root), and cargo overrides the
# crates.io rmcp with that copy (`--config patch.crates-io.rmcp.path=...`) into its own target dir,
# so the normal build's artifacts are not invalidated.
#
#   bench/rmcp-patch.sh bench/proposals/rmcp-headers-typed.patch bench/proposals/rmcp-untagged-peek.patch
#   bench/rmcp-patch.sh                    # no patch: the same build of unpatched rmcp (a baseline)
#   CANDIDATE=$(bench/rmcp-patch.sh ... | tail -1 | cut -f2) bench/run.sh
#
# rmcp-macros is not patched: it generates code against rmcp's public items, which the patches keep.
# Prints "my-service<TAB>path" and "bare-rmcp<TAB>path" (my-service last). Knobs: CARGO_TARGET_DIR
# (target; the build goes to $CARGO_TARGET_DIR/rmcp-patched), CARGO_PROFILE_RELEASE_DEBUG=1 for
# callgrind line tables, TEST=1 to also run the framework's protocol_2026 and http tests against it
# (their servers included: see below).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VERSION=3.11.0
patches=()
for p in "$@"; do patches+=("$(realpath "$p")"); done

# The source cargo itself would build: the registry's unpacked crate (fetched on demand).
src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/rmcp-$VERSION 2>/dev/null | head -1 || true)
if [ -z "$src" ]; then
    cargo fetch --quiet
    src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/rmcp-$VERSION | head -1)
fi

dest=.bench/rmcp-patched/rmcp-$VERSION
# A fresh copy has new mtimes, which makes cargo rebuild rmcp and everything above it: the copy is
# only made again when the patch set changed.
stamp=$( (echo "$src"; cat "${patches[@]}" </dev/null) | sha256sum | cut -d' ' -f1)
if [ "$(cat .bench/rmcp-patched/stamp 2>/dev/null)" != "$stamp" ] || [ ! -d "$dest" ]; then
    rm -rf "$dest" .bench/rmcp-patched/stamp
    mkdir -p .bench/rmcp-patched
    cp -r "$src" "$dest"
    for p in "${patches[@]}"; do
        echo "== apply $(basename "$p")" >&2
        patch -d "$dest" -p1 --no-backup-if-mismatch --quiet <"$p"
    done
    echo "$stamp" >.bench/rmcp-patched/stamp
else
    echo "== $dest already has these patches" >&2
fi

# A patched build rewrites Cargo.lock (rmcp loses its registry source and checksum): the lock file
# is put back as it was when the script ends.
cp Cargo.lock .bench/rmcp-patched/Cargo.lock.saved
trap 'cp .bench/rmcp-patched/Cargo.lock.saved Cargo.lock' EXIT

target="$(realpath -m "${CARGO_TARGET_DIR:-target}")/rmcp-patched"
config="patch.crates-io.rmcp.path=\"$ROOT/$dest\""
echo "== build my-service, bare-rmcp against $dest into $target" >&2
CARGO_TARGET_DIR="$target" cargo build --release --quiet --config "$config" -p my-service -p cm-bench \
    --bin my-service --bin bare-rmcp
if [ -n "${TEST:-}" ]; then
    # The tests build their server binaries with a `cargo build` of their own (run in this
    # checkout), which `--config` does not reach: while they run, .cargo/config.toml holds the patch.
    # Other builds in this checkout meanwhile get it too. Not done if that file exists.
    if [ -e .cargo/config.toml ]; then
        echo "TEST=1 needs to write .cargo/config.toml, which exists: not run" >&2
        exit 1
    fi
    mkdir -p .cargo
    trap 'cp .bench/rmcp-patched/Cargo.lock.saved Cargo.lock; rm -f .cargo/config.toml; rmdir .cargo 2>/dev/null || true' EXIT
    printf '[patch.crates-io]\nrmcp = { path = "%s" }\n' "$ROOT/$dest" >.cargo/config.toml
    echo "== cargo test -p cm-mcp --test protocol_2026 --test http (patched rmcp, servers included)" >&2
    CARGO_TARGET_DIR="$target" cargo test --quiet -p cm-mcp --test protocol_2026 --test http >&2
fi
printf 'bare-rmcp\t%s\n' "$target/release/bare-rmcp"
printf 'my-service\t%s\n' "$target/release/my-service"
