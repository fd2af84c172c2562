#!/usr/bin/env python3
"""Turns a CUDA source of kernels/cuda/ into C++ that the CUDA emulator runs.

Two pieces of CUDA syntax have no C++ spelling, and only they change:
  kernel<<<grid, block, shared, stream>>>(args)
      -> ::molt_emu::launch(::molt_emu::Site{__FILE__, __LINE__}, "kernel", kernel,
                            grid, block, shared, stream)(args)
  extern __shared__ [__align__(N)] T name[];
      -> T* const name = static_cast<T*>(::molt_emu::dynamic_shared_memory());
and a block-scope shared array, which the emulator's headers make a static,
  __shared__ T name[N];
      -> static T name[N]; static const bool ... = ::molt_emu::register_shared(name, sizeof name);
so the emulator can fill it with NaN bytes before every block, as it does dynamic shared
memory: a read of shared memory no thread of the block wrote then shows.
A #line directive keeps every message and __FILE__ pointing at the original file and line.

usage: rewrite_cuda_source.py SOURCE.cu OUTPUT.cpp
"""
import os
import re
import sys

LAUNCH = re.compile(r"([A-Za-z_][A-Za-z_0-9:]*(?:<[^<>;]*>)?)\s*<<<(.*?)>>>", re.S)
STATIC_SHARED = re.compile(
    r"(?<!extern )__shared__\s+((?:__align__\(\s*\d+\s*\)\s+)?[A-Za-z_][\w:]*)\s+(\w+)((?:\s*\[[^;\]]*\])+)\s*;")
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

    def static_shared(match):
        type_name, name, dims = match.group(1), match.group(2), match.group(3)
        return ("__shared__ %s %s%s; [[maybe_unused]] static const bool %s_molt_emu_registered = "
                "::molt_emu::register_shared(%s, sizeof %s);"
                % (type_name, name, dims, name, name, name))

    text, launches = LAUNCH.subn(launch, text)
    text = EXTERN_SHARED.sub(shared, text)
    text = STATIC_SHARED.sub(static_shared, text)
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
