#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 300), seeding the corpora
# first. Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
#   fuzz/run.sh            # all targets, 300 s each
#   fuzz/run.sh 60 check   # one target, 60 s
# Sanitizers are off (`-s none`): iptlint has no unsafe code of its own, and
# without AddressSanitizer the targets run several times faster. Crashes land
# in fuzz/artifacts/<target>/; reproduce one with
#   cargo +nightly fuzz run -s none -O <target> fuzz/artifacts/<target>/<file>
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(check parse roundtrip suppression optimize translate diff)
./seed.sh
for target in "${targets[@]}"; do
    echo "== $target, $seconds s"
    cargo +nightly fuzz run -s none -O --target-dir target/nosan "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -dict=iptables.dict -max_len=16384 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1
done
