// The two HDF5 files of a checkpoint, model.h5 and optim.h5 (layout in io/checkpoint.h).
//
// Kept apart from the folder protocol in checkpoint.cpp: these functions know HDF5 and
// nothing about tmp folders, renames or `latest`. Every HDF5 call runs under hdf5_mutex(),
// taken per tensor rather than per file so a shard-prefetch thread is never stalled for a
// whole checkpoint. Every failure becomes a UserError naming the file.
#pragma once

#include <string>
#include <vector>

#include "io/checkpoint.h"

namespace molt::io {

void write_model_file(const std::string& path, const TensorTable& table, const float* params);
void write_optimizer_file(const std::string& path, size_t total,
                          const std::vector<OptimizerShard>& shards);

// Fills `params` (sized table_count(expected)) by the table's offsets.
void read_model_file(const std::string& path, const TensorTable& expected,
                     std::vector<float>& params);
// Fills full-size m and v (sized `total`), whatever the shards written.
void read_optimizer_file(const std::string& path, size_t total, std::vector<float>& m,
                         std::vector<float>& v);

}  // namespace molt::io
