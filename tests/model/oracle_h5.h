// What the oracle dump tools share: writing float and int arrays and a whole flat buffer
// (one dataset per TensorTable entry) into the HDF5 file that a PyTorch oracle reads.
#pragma once

#include <hdf5.h>

#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/tensor_table.h"

namespace molt::oracle {

inline void write_array(hid_t file, const std::string& name, hid_t file_type, hid_t memory_type,
                        const void* data, const std::vector<hsize_t>& shape) {
  hid_t space = H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t ds = H5Dcreate2(file, name.c_str(), file_type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(ds, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(ds);
  H5Pclose(lcpl);
  H5Sclose(space);
}

inline void write(hid_t file, const std::string& name, const std::vector<float>& data,
                  const std::vector<hsize_t>& shape) {
  write_array(file, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data.data(), shape);
}

inline void write_ints(hid_t file, const std::string& name, const std::vector<int32_t>& data,
                       const std::vector<hsize_t>& shape) {
  write_array(file, name, H5T_STD_I32LE, H5T_NATIVE_INT32, data.data(), shape);
}

// group/<entry name> for every entry of the table, in molt's layout.
inline void write_table(hid_t file, const std::string& group, const TensorTable& table,
                        const std::vector<float>& flat) {
  for (const auto& e : table) {
    std::vector<float> values(flat.begin() + e.offset, flat.begin() + e.offset + e.count());
    write(file, group + "/" + e.name, values, std::vector<hsize_t>(e.shape.begin(), e.shape.end()));
  }
}

inline std::vector<float> download(kernels::Backend& backend, kernels::Tensor t) {
  std::vector<float> host(t.count);
  backend.download(host.data(), t);
  return host;
}

}  // namespace molt::oracle
