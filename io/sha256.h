// SHA-256 of a file, as lowercase hex: the tokenizer's identity in shards and dataset.toml.
//
// Hand-written (FIPS 180-4) rather than linking OpenSSL: molt hashes one small file per
// dataset, and ~80 lines are cheaper than a new dependency for every build and bundle.
#pragma once

#include <string>

namespace molt::io {

// Hash of `bytes`.
std::string sha256_hex(const std::string& bytes);

// Hash of the file at `path`; throws UserError naming it when it cannot be read.
std::string file_sha256_hex(const std::string& path);

}  // namespace molt::io
