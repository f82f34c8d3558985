#!/usr/bin/env python3
"""Summarize a massif.out peak snapshot: bytes by the first iptlint frame (innermost).

Usage: massif-peak.py MASSIF_OUT [TOP_N] [FRAME]
With FRAME (e.g. `lints::run`), summarize instead the largest detailed
snapshot taken while FRAME was allocating (run massif with
--detailed-freq=1 so that there are enough of them): the peak of a phase
that is not the peak of the run."""
import re, sys, collections
lines = open(sys.argv[1]).read().splitlines()
snaps = []; cur = None
for i, l in enumerate(lines):
    if l.startswith('snapshot='): cur = {'start': i}; snaps.append(cur)
    elif cur is not None and l.startswith('heap_tree='): cur['kind'] = l.split('=')[1]; cur['tree'] = i + 1
    elif cur is not None and l.startswith('mem_heap_B='): cur['heap'] = int(l.split('=')[1])
def tree_mentions(s, frame):
    j = s['tree']
    while j < len(lines) and lines[j].lstrip().startswith('n'):
        if frame in lines[j]:
            return True
        j += 1
    return False
if len(sys.argv) > 3:
    peak = max((s for s in snaps if s.get('kind') in ('detailed', 'peak') and tree_mentions(s, sys.argv[3])),
               key=lambda s: s['heap'])
else:
    peak = [s for s in snaps if s.get('kind') == 'peak'][0]
# parse tree
i = peak['tree']; stack = []; agg = collections.Counter()
node_re = re.compile(r'^(\s*)n(\d+): (\d+) (.*)$')
def frame_name(desc):
    m = re.search(r': (.*) \(', desc)
    return m.group(1) if m else desc
# recursive descent
def walk(i, path):
    m = node_re.match(lines[i]); nch = int(m.group(2)); b = int(m.group(3)); desc = m.group(4)
    path = path + [desc]
    j = i + 1
    if nch == 0:
        # attribute to innermost iptlint frame that isn't a generic helper
        name = None
        for d in path:
            f = frame_name(d)
            if 'iptlint::' in f and 'SmallPush' not in f and 'push_small' not in f:
                name = f; break
        agg[name or (frame_name(path[-1]) if len(path) > 1 else 'other')] += b
    for _ in range(nch):
        j = walk(j, path)
    return j
sys.setrecursionlimit(100000)
walk(i, [])
tot = sum(agg.values())
print(f"peak heap {peak['heap']:,} B")
for k, v in agg.most_common(int(sys.argv[2]) if len(sys.argv) > 2 else 25):
    print(f"{v:>12,} {100*v/tot:5.1f}%  {k[:150]}")
