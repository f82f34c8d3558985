#!/usr/bin/env bash
# Builds the seed corpora of the fuzz targets from the repository's fixtures
# (examples/*.rules, tests/fixtures/kernel/*.rules) and, when it is there,
# the small dumps of ../shared/corpus/dumps. Copies go to fuzz/corpus/<target>/,
# which git ignores; nothing from shared/ enters the repository.
set -euo pipefail
cd "$(dirname "$0")"
for target in parse check roundtrip suppression optimize translate diff; do
    mkdir -p "corpus/$target"
done
seeds=(../examples/*.rules ../tests/fixtures/kernel/*.rules ../tests/fixtures/optimize/*.rules ../tests/fixtures/translate/*.v4 ../tests/fixtures/diff/*.rules ../tests/fixtures/trace/*.rules)
if [ -d ../../shared/corpus/dumps ]; then
    while IFS= read -r -d '' f; do seeds+=("$f"); done \
        < <(find ../../shared/corpus/dumps -type f -size -16k -print0)
fi
for f in "${seeds[@]}"; do
    name=$(printf '%s' "$f" | sha1sum | cut -c1-16)
    for target in parse check roundtrip optimize translate diff; do
        cp "$f" "corpus/$target/seed-$name"
    done
    # The suppression lexer gets the comment lines.
    grep -h -o 'iptlint:.*' "$f" > "corpus/suppression/seed-$name" || rm -f "corpus/suppression/seed-$name"
done
i=0
for line in 'iptlint: ignore[duplicate-rule, IPT202] reason' 'iptlint: ignore-file[IPT3]' \
    'legacy; iptlint: ignore[unused-suppression]' 'IPTLINT:ignore[ IPT001 ,syntax-error ]' 'iptlint: ignore['; do
    i=$((i + 1))
    printf '%s\n' "$line" > "corpus/suppression/seed-handmade-$i"
done
echo "seeded: $(ls corpus/parse | wc -l) files per target"
