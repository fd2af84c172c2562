#!/usr/bin/env bash
# Prepares the Linux kernel corpus for the CPU scaling sweep (docs/scaling/): Debian's
# linux-source-6.1 package (about 1.3 GB of C, headers, scripts and documentation) ->
# data/linux-src/ -> `molt prep` -> data/linux/ (8192-token BPE, 100 sentinels, 0.5% val).
# Usage: scripts/prep-linux.sh path/to/molt
# Each step is skipped when its output already exists. molt prep streams the tree: pass 1
# counts documents and samples lines for the tokenizer, pass 2 tokenizes on all cores, so
# memory stays bounded by the tokenizer sample and the per-thread buffers, not the corpus.
# The peak RSS and wall time of the prep are printed at the end.
set -euo pipefail
MOLT=${1:?usage: scripts/prep-linux.sh path/to/molt}
MOLT=$(cd "$(dirname "$MOLT")" && pwd)/$(basename "$MOLT")
cd "$(dirname "$0")/.."
mkdir -p data

tarball=/usr/src/linux-source-6.1.tar.xz
if [ ! -f "$tarball" ] || [ ! -x /usr/bin/time ]; then
  echo "prep-linux: installing the Debian packages linux-source-6.1 and time"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=sudo; fi
  $sudo_cmd apt-get install -y -q --no-install-recommends linux-source-6.1 time > /dev/null
fi

src=data/linux-src
if [ -f "$src/.complete" ]; then
  echo "prep-linux: $src already unpacked"
else
  echo "prep-linux: unpacking $tarball into $src"
  rm -rf "$src" "$src.tmp" && mkdir -p "$src.tmp"
  tar xJf "$tarball" -C "$src.tmp" --strip-components=1
  touch "$src.tmp/.complete"
  mv "$src.tmp" "$src"
fi
echo "prep-linux: $(find "$src" -type f | wc -l) files, $(du -sh "$src" | cut -f1)"

if [ -f data/linux/dataset.toml ]; then
  echo "prep-linux: data/linux already prepared"
else
  /usr/bin/time -f "prep-linux: molt prep took %e s, peak RSS %M KiB" \
    "$MOLT" prep "$src" -o data/linux --vocab-size 8192 --model-type bpe --sentinels 100 \
      --seed 1
fi
"$MOLT" inspect data/linux
