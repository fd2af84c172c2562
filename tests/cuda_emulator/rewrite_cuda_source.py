#!/usr/bin/env python3
"""Turns a CUDA source of kernels/cuda/ into C++ that the CUDA emulator runs.

Two pieces of CUDA syntax have no C++ spelling, and only they change:
  kernel<<<grid, block, shared, stream>>>(args)
      -> ::molt_emu::launch(::molt_emu::Site{__FILE__, __LINE__}, "kernel", kernel,
                            grid, block, shared, stream)(args)
  extern __shared__ [__align__(N)] T name[];
      -> T* const name = static_cast<T*>(::molt_emu::dynamic_shared_memory());
A #line directive keeps every message and __FILE__ pointing at the original file and line.

usage: rewrite_cuda_source.py SOURCE.cu OUTPUT.cpp
"""
import os
import re
import sys

LAUNCH = re.compile(r"([A-Za-z_][A-Za-z_0-9:]*(?:<[^<>;]*>)?)\s*<<<(.*?)>>>", re.S)
EXTERN_SHARED = re.compile(
    r"extern\s+__shared__\s+(?:__align__\(\s*\d+\s*\)\s+)?([A-Za-z_][\w\s:]*?)\s+(\w+)\s*\[\s*\]\s*;")


def rewrite(text):
    def launch(match):
        kernel, config = match.group(1), match.group(2)
        # Keep the line count: newlines inside the configuration stay where they were.
        return ('::molt_emu::launch(::molt_emu::Site{__FILE__, __LINE__}, "%s", %s, %s)'
                % (kernel, kernel, config))

    def shared(match):
        type_name, name = match.group(1), match.group(2)
        return ("%s* const %s = static_cast<%s*>(::molt_emu::dynamic_shared_memory());"
                % (type_name, name, type_name))

    text, launches = LAUNCH.subn(launch, text)
    text = EXTERN_SHARED.sub(shared, text)
    if "<<<" in text or ">>>" in text:
        raise SystemExit("rewrite_cuda_source.py: a launch it could not parse remains")
    return text, launches


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    source, output = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        text, _ = rewrite(f.read())
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    with open(output, "w", encoding="utf-8") as f:
        f.write('#line 1 "%s"\n' % source)
        f.write(text)


if __name__ == "__main__":
    main()
