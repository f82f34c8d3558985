#!/usr/bin/env bash
# Time iptlint's rewriting commands against the real tools on generated
# dumps: `translate` vs `iptables-restore-translate` (and how long `nft -c`
# takes to load each output), `optimize` (and the kernel load time of its
# output vs the input's), and `diff` of a dump with itself and with its
# optimized form. See bench/README.md.
#
# usage: bench/commands.sh [DUMP...]
#   DUMP is one of: kube-1k kube-10k kube-50k flat-10k flat-100k
#   (default: kube-10k flat-100k kube-50k)
#
# environment: RUNS (3), WARMUP (1), BENCH_OUT (bench/out), BENCH_RESULT,
# IPTLINT_BIN, as for bench/compare.sh.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-1}
OUT=${BENCH_OUT:-bench/out}
IPTLINT=${IPTLINT_BIN:-target/release/iptlint}
[[ $IPTLINT == /* ]] || IPTLINT=$ROOT/$IPTLINT
GEN=target/release/examples/gen-dump

die() { echo "commands.sh: $*" >&2; exit 1; }

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

if [[ $# -gt 0 ]]; then DUMPS=("$@"); else DUMPS=(kube-10k flat-100k kube-50k); fi
for d in "${DUMPS[@]}"; do gen_args "$d" >/dev/null || die "unknown dump '$d'"; done

for tool in hyperfine iptables-restore iptables-restore-translate nft ipset unshare; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y hyperfine iptables nftables ipset)"
done
unshare -n true 2>/dev/null || die "cannot create a network namespace (run as root)"

if [[ -z ${IPTLINT_BIN:-} ]]; then
    echo "==> cargo build --release" >&2
    cargo build --release --bin iptlint >&2
fi
cargo build --release --example gen-dump >&2
mkdir -p "$OUT" bench/results

NPROC=$(nproc)
MEM_GIB=$(awk '/^MemTotal:/ { printf "%d", $2 / 1048576 + 0.5 }' /proc/meminfo)
MACHINE="${NPROC}cpu-${MEM_GIB}GiB"
DATE=$(date -u +%Y-%m-%d)
RESULT=${BENCH_RESULT:-bench/results/$DATE-$MACHINE-commands.md}
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo none)

# mean seconds of the command named NAME in a hyperfine CSV export
mean() { awk -F, -v n="$2" 'NR > 1 && $1 == n { printf "%.3f", $2 }' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
hf() { # hf CSV NAME CMD [NAME CMD]...
    local csv=$1
    shift
    local args=()
    while (($#)); do args+=(-n "$1" "$2"); shift 2; done
    hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" --export-csv "$csv" "${args[@]}" >&2
}

TRANSLATE_ROWS=()
OPTIMIZE_ROWS=()
DIFF_ROWS=()
for d in "${DUMPS[@]}"; do
    dump=$OUT/$d.rules
    # shellcheck disable=SC2046
    [[ -s $dump ]] || "$GEN" $(gen_args "$d") >"$dump"
    q=$(printf %q "$ROOT/$dump")
    rules=$(grep -c '^-A ' "$dump" || true)

    # ---- translate
    ours=$OUT/$d.iptlint.nft ref=$OUT/$d.reference.nft
    "$IPTLINT" translate "$dump" -o "$ours" >/dev/null 2>"$OUT/$d.translate.stderr" || true
    iptables-restore-translate -f "$dump" >"$ref" 2>/dev/null || true
    hf "$OUT/$d.translate.csv" \
        iptlint "$IPTLINT translate $q -o /dev/null" \
        reference "sh -c 'iptables-restore-translate -f $q > /dev/null'"
    t_ours=$(mean "$OUT/$d.translate.csv" iptlint)
    t_ref=$(mean "$OUT/$d.translate.csv" reference)
    qo=$(printf %q "$ROOT/$ours") qr=$(printf %q "$ROOT/$ref")
    # iptables-restore-translate's output often does not load at all (its
    # kube-proxy DNAT rules lose their protocol): time only what loads.
    l_ours="does not load" l_ref="does not load"
    if unshare -n nft -c -f "$ours" >/dev/null 2>&1; then
        hf "$OUT/$d.nft-load-ours.csv" iptlint "unshare -n nft -c -f $qo"
        l_ours=$(mean "$OUT/$d.nft-load-ours.csv" iptlint)
    fi
    if unshare -n nft -c -f "$ref" >/dev/null 2>&1; then
        hf "$OUT/$d.nft-load-ref.csv" reference "unshare -n nft -c -f $qr"
        l_ref=$(mean "$OUT/$d.nft-load-ref.csv" reference)
    fi
    # A fair load comparison needs both to load and both to count: ours
    # with --counters (the reference puts `counter` in every rule), and the
    # reference repaired by giving each DNAT/REDIRECT with a port back a
    # protocol (`meta l4proto tcp`: right for timing, not for every packet).
    ours_c=$OUT/$d.iptlint-counters.nft fixed=$OUT/$d.reference-repaired.nft
    "$IPTLINT" translate --counters "$dump" -o "$ours_c" >/dev/null 2>&1 || true
    sed -E 's/ counter (dnat|redirect) to / meta l4proto tcp counter \1 to /' "$ref" >"$fixed"
    l_ours_c="does not load" l_fixed="does not load"
    qoc=$(printf %q "$ROOT/$ours_c") qf=$(printf %q "$ROOT/$fixed")
    if unshare -n nft -c -f "$ours_c" >/dev/null 2>&1; then
        hf "$OUT/$d.nft-load-ours-counters.csv" iptlint "unshare -n nft -c -f $qoc"
        l_ours_c=$(mean "$OUT/$d.nft-load-ours-counters.csv" iptlint)
    fi
    if unshare -n nft -c -f "$fixed" >/dev/null 2>&1; then
        hf "$OUT/$d.nft-load-repaired.csv" reference "unshare -n nft -c -f $qf"
        l_fixed=$(mean "$OUT/$d.nft-load-repaired.csv" reference)
    fi
    # kube-proxy's service dispatch: rules in KUBE-SERVICES of the nat table.
    svc_ours=$(awk '/^table ip nat/{nat=1} /^table /&&!/nat/{nat=0} nat&&/chain KUBE-SERVICES \{/{c=1;next} c&&/^\t}/{c=0} c&&!/^\t\ttype/{n++} END{print n+0}' "$ours")
    svc_ref=$(grep -c '^add rule ip nat KUBE-SERVICES ' "$ref" || true)
    n_ours=$(grep -cE '^\s+(ip|ip6|meta|tcp|udp|iifname|oifname|ct|mark|counter|jump|goto|accept|drop|return|reject|dnat|snat|masquerade|numgen|th|icmp|log|fib|@|comment)' "$ours" || true)
    n_ref=$(grep -cE '^add rule' "$ref" || true)
    TRANSLATE_ROWS+=("| $d | $rules | $t_ours | $t_ref | $(ratio "$t_ours" "$t_ref") | $l_ours | $l_ref | $l_ours_c | $l_fixed | $n_ours | $n_ref | $svc_ours | $svc_ref |")

    # ---- optimize
    opt=$OUT/$d.optimized.rules sets=$OUT/$d.optimized.ipsets
    hf "$OUT/$d.optimize.csv" iptlint "$IPTLINT optimize $q --remove-dead --ipsets /dev/null -o /dev/null"
    t_opt=$(mean "$OUT/$d.optimize.csv" iptlint)
    "$IPTLINT" optimize "$dump" --remove-dead --ipsets "$sets" -o "$opt" 2>"$OUT/$d.optimize.stderr" || true
    after=$(grep -c '^-A ' "$opt" || true)
    qopt=$(printf %q "$ROOT/$opt") qsets=$(printf %q "$ROOT/$sets")
    hf "$OUT/$d.kernel-load.csv" \
        input "unshare -n sh -c 'iptables-restore < $q'" \
        optimized "unshare -n sh -c 'ipset restore < $qsets && iptables-restore < $qopt'"
    k_in=$(mean "$OUT/$d.kernel-load.csv" input)
    k_out=$(mean "$OUT/$d.kernel-load.csv" optimized)
    OPTIMIZE_ROWS+=("| $d | $rules | $after | $t_opt | $k_in | $k_out |")

    # ---- diff
    hf "$OUT/$d.diff.csv" \
        itself "$IPTLINT diff $q $q" \
        optimized "$IPTLINT diff $q $qopt"
    DIFF_ROWS+=("| $d | $(mean "$OUT/$d.diff.csv" itself) | $(mean "$OUT/$d.diff.csv" optimized) |")
done

{
    echo "# iptlint translate / optimize / diff — $DATE, $MACHINE (git $COMMIT)"
    echo
    echo "hyperfine --warmup $WARMUP --runs $RUNS; seconds (mean)."
    echo
    echo "## translate vs iptables-restore-translate"
    echo
    echo "| dump | rules | iptlint s | reference s | ratio | nft -c load of ours s | of the reference s | ours --counters s | reference repaired s | rule lines ours | rules reference | KUBE-SERVICES rules ours | reference |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${TRANSLATE_ROWS[@]}"
    echo
    echo "## optimize --remove-dead --ipsets"
    echo
    echo "| dump | rules before | rules after | iptlint optimize s | kernel load of the input s | of the output (ipset + iptables-restore) s |"
    echo "|---|---:|---:|---:|---:|---:|"
    printf '%s\n' "${OPTIMIZE_ROWS[@]}"
    echo
    echo "## diff"
    echo
    echo "| dump | diff with itself s | diff with its optimized form s |"
    echo "|---|---:|---:|"
    printf '%s\n' "${DIFF_ROWS[@]}"
} | tee "$RESULT"
echo "written to $RESULT" >&2
