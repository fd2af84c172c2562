#!/usr/bin/env bash
# Contract: `molt prep` turns a folder of text and a JSONL file into a dataset folder that
# `molt inspect` describes (counts, ids, sentinels, a decoded sample of the real text), and
# `molt bench loader` streams it. Uses a generated corpus: no network.
set -euo pipefail
MOLT_BIN=${MOLT_BIN:?MOLT_BIN must point at the molt binary}
PY=${MOLT_PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$PY" - "$tmp" <<'PYEOF'
import json, os, random, sys
root = sys.argv[1]
words = "the of and to in a is that for it as was with be by on not he this are or from".split()
os.makedirs(f"{root}/corpus/nested")
rng = random.Random(1)
for i in range(30):
    sub = "nested/" if i % 3 == 0 else ""
    with open(f"{root}/corpus/{sub}doc{i:02d}.txt", "w") as f:
        f.write(f"Document {i} begins here.\n" +
                " ".join(rng.choice(words) for _ in range(200)) + "\n")
with open(f"{root}/extra.jsonl", "w") as f:
    for i in range(10):
        f.write(json.dumps({"text": "json doc %d " % i + " ".join(rng.choice(words) for _ in range(50))}) + "\n")
PYEOF

"$MOLT_BIN" prep "$tmp/corpus" "$tmp/extra.jsonl" -o "$tmp/ds" --vocab-size 320 --sentinels 16 \
  --val-fraction 0.1 --model-type unigram > "$tmp/prep.out"
grep -q "wrote $tmp/ds" "$tmp/prep.out"
test ! -e "$tmp/ds.tmp"
for f in dataset.toml tokenizer.model train-00000.h5 val-00000.h5; do test -f "$tmp/ds/$f"; done

"$MOLT_BIN" inspect "$tmp/ds" > "$tmp/inspect.out"
grep -q "vocab_size: 320 (sentinels 16: ids 304..319)" "$tmp/inspect.out"
grep -q "ids: pad 0, eos 1, unk 2, bos 3" "$tmp/inspect.out"
grep -Eq "^train: 1 shards, [0-9]+ tokens, 36 documents" "$tmp/inspect.out"
grep -Eq "^val: 1 shards, [0-9]+ tokens, 4 documents" "$tmp/inspect.out"
grep -q "Document .* begins here\." "$tmp/inspect.out"  # decoded sample is the input text

"$MOLT_BIN" inspect "$tmp/ds/val-00000.h5" > "$tmp/shard.out"
grep -q "documents: 4" "$tmp/shard.out"
grep -q "sample (first document" "$tmp/shard.out"

"$MOLT_BIN" bench loader "$tmp/ds" --seq-len 32 --micro-batch 4 --seconds 0.3 > "$tmp/bench.out"
grep -Eq "tokens/s per rank" "$tmp/bench.out"
grep -Eq "peak RSS: [0-9.]+ MB" "$tmp/bench.out"
echo "prep_inspect_test: ok"
