#!/usr/bin/env bash
# Contract: every bad input to prep / inspect / bench loader ends with exit status 2 and one
# message naming the file, key or line, and prep leaves no half-written output.
set -euo pipefail
MOLT_BIN=${MOLT_BIN:?MOLT_BIN must point at the molt binary}
PY=${MOLT_PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect_error "what" "message fragment" molt-args...
expect_error() {
  local what=$1 fragment=$2
  shift 2
  local status=0
  "$MOLT_BIN" "$@" > "$tmp/out" 2> "$tmp/err" || status=$?
  if [ "$status" -ne 2 ]; then
    echo "FAIL $what: exit status $status, expected 2"; cat "$tmp/err"; failures=$((failures + 1))
  elif ! grep -qF -- "$fragment" "$tmp/err"; then
    echo "FAIL $what: stderr lacks '$fragment':"; cat "$tmp/err"; failures=$((failures + 1))
  elif grep -q "HDF5-DIAG" "$tmp/err"; then
    echo "FAIL $what: HDF5's own error stack leaked"; failures=$((failures + 1))
  else
    echo "ok   $what"
  fi
}

# A small good dataset to break in different ways.
mkdir -p "$tmp/corpus"
for i in $(seq 1 12); do
  printf 'text number %d about cats and dogs and the sea\nand a second line %d\n' "$i" "$i" \
    > "$tmp/corpus/$i.txt"
done
"$MOLT_BIN" prep "$tmp/corpus" -o "$tmp/good" --vocab-size 300 > /dev/null

# prep: empty corpus, missing input, existing output.
mkdir -p "$tmp/empty"
: > "$tmp/empty/nothing.txt"
expect_error "empty corpus" "empty corpus" prep "$tmp/empty" -o "$tmp/out-empty" --vocab-size 300
test ! -e "$tmp/out-empty" && test ! -e "$tmp/out-empty.tmp" || {
  echo "FAIL empty corpus left output behind"; failures=$((failures + 1)); }
expect_error "missing input" "$tmp/nope: no such file" prep "$tmp/nope" -o "$tmp/o2"
expect_error "existing output" "already exists" prep "$tmp/corpus" -o "$tmp/good"

# inspect / bench: missing dataset path.
expect_error "missing dataset" "$tmp/absent: no such" inspect "$tmp/absent"
expect_error "missing dataset (loader)" "no such dataset folder" bench loader "$tmp/absent"

# A file that is not HDF5, a truncated HDF5 file, an HDF5 file that is not a shard.
echo "hello" > "$tmp/text.h5"
expect_error "not HDF5" "text.h5: not an HDF5 file" inspect "$tmp/text.h5"
cp "$tmp/good/train-00000.h5" "$tmp/cut.h5"
truncate -s 1500 "$tmp/cut.h5"
expect_error "truncated HDF5" "cut.h5: cannot open HDF5 file (truncated" inspect "$tmp/cut.h5"
"$PY" -c "import h5py,sys; f=h5py.File(sys.argv[1],'w'); f['tokens']=[1,2,3]" "$tmp/plain.h5"
expect_error "HDF5 that is not a shard" "plain.h5: not a molt token shard" inspect "$tmp/plain.h5"

# A token id >= vocab_size, found when the window is read.
"$PY" - "$tmp/bad_ids.h5" <<'PYEOF'
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("tokens", data=np.array([5, 6, 700, 1], dtype=np.uint16), chunks=(4,), maxshape=(None,))
    f.create_dataset("doc_offsets", data=np.array([0], dtype=np.uint64))
    f.attrs["format"] = np.bytes_("molt-tokens"); f.attrs["version"] = 1
    for k, v in dict(vocab_size=300, eos_id=1, bos_id=3, pad_id=0).items(): f.attrs[k] = v
    f.attrs["tokenizer_sha256"] = np.bytes_("x")
PYEOF
cp "$tmp/good/tokenizer.model" "$tmp/tokenizer.model"
expect_error "token id >= vocab" "bad_ids.h5: token id 700" inspect "$tmp/bad_ids.h5"

# dataset.toml: malformed (line and column), unknown key, wrong type.
cp -r "$tmp/good" "$tmp/malformed"
printf 'vocab_size = = 3\n' >> "$tmp/malformed/dataset.toml"
line=$(wc -l < "$tmp/malformed/dataset.toml")
expect_error "malformed dataset.toml" "dataset.toml:$line:" inspect "$tmp/malformed"
cp -r "$tmp/good" "$tmp/unknown"
sed -i '1i vocab_sise = 3' "$tmp/unknown/dataset.toml"
expect_error "unknown key" "unknown key 'vocab_sise'" inspect "$tmp/unknown"
cp -r "$tmp/good" "$tmp/wrongtype"
sed -i 's/^vocab_size = .*/vocab_size = "300"/' "$tmp/wrongtype/dataset.toml"
expect_error "wrong type" "key 'vocab_size' should be an integer" inspect "$tmp/wrongtype"

# Shards made by different tokenizers in one dataset.
"$MOLT_BIN" prep "$tmp/corpus" -o "$tmp/other" --vocab-size 290 --model-type unigram > /dev/null
cp -r "$tmp/good" "$tmp/mixed"
cp "$tmp/other/val-00000.h5" "$tmp/mixed/val-00000.h5"
expect_error "mixed tokenizers" "val-00000.h5: made by a different tokenizer" inspect "$tmp/mixed"

# A sequence length longer than any shard allows.
expect_error "sequence too long" "longer than any 'train' shard allows" \
  bench loader "$tmp/good" --seq-len 100000 --seconds 0.1

if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "prep_errors_test: ok"
