#!/usr/bin/env bash
# Compare `iptlint check` against `iptables-restore --test` on generated
# iptables-save dumps. See bench/README.md.
#
# usage: bench/compare.sh [DUMP...]
#   DUMP is one of: kube-1k kube-10k kube-50k flat-10k flat-100k (default: all)
#
# environment:
#   RUNS=3 WARMUP=1        hyperfine settings
#   BENCH_OUT=bench/out    where dumps and raw hyperfine exports go
#   BENCH_RESULT=path.md   result file (default bench/results/DATE-MACHINE.md)
#   IPTLINT_BIN=path       iptlint binary to time (default target/release/iptlint)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

ALL_DUMPS=(kube-1k kube-10k kube-50k flat-10k flat-100k)
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-1}
OUT=${BENCH_OUT:-bench/out}
IPTLINT=${IPTLINT_BIN:-target/release/iptlint}
[[ $IPTLINT == /* ]] || IPTLINT=$ROOT/$IPTLINT
GEN=target/release/examples/gen-dump

die() { echo "compare.sh: $*" >&2; exit 1; }

gen_args() {
    case $1 in
        kube-1k)   echo "kube --services 1000 --endpoints 3" ;;
        kube-10k)  echo "kube --services 10000 --endpoints 3" ;;
        kube-50k)  echo "kube --services 50000 --endpoints 3" ;;
        flat-10k)  echo "flat --rules 10000" ;;
        flat-100k) echo "flat --rules 100000" ;;
        *) return 1 ;;
    esac
}

if [[ $# -gt 0 ]]; then
    DUMPS=("$@")
    for d in "${DUMPS[@]}"; do
        gen_args "$d" >/dev/null || die "unknown dump '$d' (choose from: ${ALL_DUMPS[*]})"
    done
else
    DUMPS=("${ALL_DUMPS[@]}")
fi

# ---- prerequisites
command -v hyperfine >/dev/null ||
    die "hyperfine not found (Debian/Ubuntu: apt-get install -y hyperfine)"
if [[ ! -x /usr/bin/time ]] || ! /usr/bin/time -v true >/dev/null 2>&1; then
    die "GNU time not found at /usr/bin/time (Debian/Ubuntu: apt-get install -y time)"
fi
command -v iptables-restore >/dev/null ||
    die "iptables-restore not found (Debian/Ubuntu: apt-get install -y iptables)"
command -v unshare >/dev/null || die "unshare not found (util-linux)"
# A private network namespace so nothing touches the host firewall.
# As non-root, try a user namespace as well.
if unshare -n true 2>/dev/null; then
    NETNS=(unshare -n)
elif unshare -r -n true 2>/dev/null; then
    NETNS=(unshare -r -n)
else
    die "cannot create a network namespace (need root, or unprivileged user namespaces)"
fi

# ---- build
IPTLINT_OK=1 IPTLINT_WHY=""
if [[ -z ${IPTLINT_BIN:-} ]]; then
    echo "==> cargo build --release (iptlint)" >&2
    if ! cargo build --release --bin iptlint >&2; then
        echo "compare.sh: WARNING: building iptlint failed; iptlint columns will be n/a" >&2
        IPTLINT_OK=0 IPTLINT_WHY="\`cargo build --release --bin iptlint\` failed"
    fi
fi
if ((IPTLINT_OK)) && [[ ! -x $IPTLINT ]]; then
    IPTLINT_OK=0 IPTLINT_WHY="$IPTLINT is not an executable"
fi
echo "==> cargo build --release --example gen-dump" >&2
cargo build --release --example gen-dump >&2

mkdir -p "$OUT" bench/results

# ---- machine / versions
NPROC=$(nproc)
MEM_GIB=$(awk '/^MemTotal:/ { printf "%d", $2 / 1048576 + 0.5 }' /proc/meminfo)
MACHINE="${NPROC}cpu-${MEM_GIB}GiB"
CPU_MODEL=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
CPU_MODEL=${CPU_MODEL:-unknown}
DATE=$(date -u +%Y-%m-%d)
RESULT=${BENCH_RESULT:-bench/results/$DATE-$MACHINE.md}

ver() { "$@" 2>&1 | head -n1 || true; }
V_IPTLINT=$( ((IPTLINT_OK)) && ver "$IPTLINT" --version || echo "n/a")
V_RESTORE=$(ver iptables-restore --version)
V_HYPERFINE=$(ver hyperfine --version)
V_RUSTC=$(ver rustc --version)
V_KERNEL=$(uname -sr)
V_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo "none")
if [[ $V_COMMIT != none ]] && ! git diff --quiet HEAD -- src Cargo.toml 2>/dev/null; then
    V_COMMIT="$V_COMMIT (+ uncommitted changes)"
fi

# ---- helpers
fmt() { awk -v x="$1" -v p="$2" 'BEGIN { printf "%.*f", p, x }'; }
div() { # div A B PRECISION -> A/B or n/a
    if [[ $1 == n/a || $2 == n/a ]]; then echo n/a; return; fi
    awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { if (b == 0) print "n/a"; else printf "%.*f", p, a / b }'
}
# mean of command NAME from a hyperfine CSV export (command,mean,stddev,...)
csv_mean() { awk -F, -v n="$2" 'NR > 1 && $1 == n { print $2 }' "$1"; }
csv_stddev() { awk -F, -v n="$2" 'NR > 1 && $1 == n { print $3 }' "$1"; }

ROWS=()
NOTES=()

for d in "${DUMPS[@]}"; do
    file=$OUT/$d.rules
    # shellcheck disable=SC2046
    echo "==> generating $d: gen-dump $(gen_args "$d")" >&2
    "$GEN" $(gen_args "$d") >"$file"
    bytes=$(stat -c %s "$file")
    size_mb=$(div "$bytes" 1048576 1)
    rules=$(grep -c '^-A ' "$file" || true)
    qfile=$(printf %q "$ROOT/$file")

    # iptlint: one probe run under GNU time (exit status + peak RSS)
    t_lint=n/a sd_lint=n/a rss_mb=n/a
    lint_timed=0
    if ((IPTLINT_OK)); then
        echo "==> $d: iptlint probe run" >&2
        set +e
        /usr/bin/time -v -o "$OUT/$d.time-v.txt" \
            "$IPTLINT" check --format json --fail-on never "$file" \
            >"$OUT/$d.iptlint.json" 2>"$OUT/$d.iptlint.stderr"
        rc=$?
        set -e
        if ((rc == 0)) && command -v jq >/dev/null &&
            ! jq -e . "$OUT/$d.iptlint.json" >/dev/null 2>&1; then
            echo "compare.sh: WARNING: iptlint output for $d is not JSON; iptlint columns n/a:" >&2
            head -c 300 "$OUT/$d.iptlint.json" >&2 || true
            echo >&2
            NOTES+=("$d: \`iptlint check --format json\` exited 0 but did not print JSON: $(head -n1 "$OUT/$d.iptlint.json" | cut -c1-80)")
        elif ((rc == 0)); then
            rss_kb=$(awk -F': *' '/Maximum resident set size/ { print $2 }' "$OUT/$d.time-v.txt")
            rss_mb=$(div "$rss_kb" 1024 1)
            lint_timed=1
        else
            echo "compare.sh: WARNING: iptlint failed on $d (exit $rc); iptlint columns n/a:" >&2
            head -n 20 "$OUT/$d.iptlint.stderr" >&2 || true
            NOTES+=("$d: \`iptlint check\` exited with status $rc: $(head -n1 "$OUT/$d.iptlint.stderr" | cut -c1-160)")
        fi
    else
        NOTES+=("$d: $IPTLINT_WHY; iptlint columns n/a")
    fi

    # hyperfine: both tools in one invocation (or only iptables-restore)
    restore_cmd="${NETNS[*]} sh -c 'iptables-restore --test < $qfile'"
    hf=(hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS"
        --export-json "$OUT/$d.hyperfine.json" --export-csv "$OUT/$d.hyperfine.csv")
    if ((lint_timed)); then
        hf+=(-n iptlint "$(printf %q "$IPTLINT") check --format json --fail-on never $qfile")
    fi
    hf+=(-n iptables-restore "$restore_cmd")
    echo "==> $d: ${hf[*]}" >&2
    t_rest=n/a sd_rest=n/a
    ok=1
    if ! "${hf[@]}" >&2; then
        ok=0
        if ((lint_timed)); then
            echo "compare.sh: WARNING: hyperfine failed for $d; retrying with iptables-restore only" >&2
            NOTES+=("$d: hyperfine failed with iptlint included; iptlint time n/a")
            lint_timed=0
            hf=(hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS"
                --export-json "$OUT/$d.hyperfine.json" --export-csv "$OUT/$d.hyperfine.csv"
                -n iptables-restore "$restore_cmd")
            "${hf[@]}" >&2 && ok=1
        fi
    fi
    if ((ok)); then
        t_rest=$(csv_mean "$OUT/$d.hyperfine.csv" iptables-restore)
        sd_rest=$(csv_stddev "$OUT/$d.hyperfine.csv" iptables-restore)
        if ((lint_timed)); then
            t_lint=$(csv_mean "$OUT/$d.hyperfine.csv" iptlint)
            sd_lint=$(csv_stddev "$OUT/$d.hyperfine.csv" iptlint)
        fi
    else
        echo "compare.sh: WARNING: hyperfine failed for $d" >&2
        NOTES+=("$d: hyperfine failed (see stderr)")
    fi

    ratio=$(div "$t_lint" "$t_rest" 4)
    rss_ratio=$(div "$rss_mb" "$size_mb" 2)
    pm() { if [[ $1 == n/a ]]; then echo n/a; else echo "$(fmt "$1" 4) ± $(fmt "$2" 4)"; fi; }
    ROWS+=("| $d | $size_mb | $rules | $(pm "$t_lint" "$sd_lint") | $(pm "$t_rest" "$sd_rest") | $ratio | $rss_mb | $rss_ratio |")
done

# ---- report
{
    echo "# iptlint vs iptables-restore --test — $DATE, $MACHINE"
    echo
    echo "- CPUs (nproc): $NPROC"
    echo "- CPU model: $CPU_MODEL"
    echo "- Memory: ${MEM_GIB} GiB"
    echo "- Kernel: $V_KERNEL"
    echo "- iptlint: $V_IPTLINT (git $V_COMMIT)"
    echo "- iptables-restore: $V_RESTORE"
    echo "- hyperfine: $V_HYPERFINE (--warmup $WARMUP --runs $RUNS)"
    echo "- rustc: $V_RUSTC"
    echo "- iptlint command: \`target/release/iptlint check --format json --fail-on never DUMP\`"
    echo "- iptables-restore command: \`${NETNS[*]} sh -c 'iptables-restore --test < DUMP'\`"
    echo
    echo "| dump | size MB | rules | iptlint s | iptables-restore --test s | ratio (iptlint/restore) | iptlint peak RSS MB | RSS/file size |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${ROWS[@]}"
    if ((${#NOTES[@]})); then
        echo
        echo "Notes:"
        echo
        for n in "${NOTES[@]}"; do echo "- $n"; done
    fi
} >"$RESULT"

echo >&2
cat "$RESULT"
echo >&2
echo "compare.sh: wrote $RESULT (raw data in $OUT/)" >&2
