#include "io/hdf5_lock.h"

#include <hdf5.h>

namespace molt::io {

std::mutex& hdf5_mutex() {
  static std::mutex mutex;
  return mutex;
}

void silence_hdf5_error_printing() {
  static bool silenced = false;
  if (!silenced) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    silenced = true;
  }
}

}  // namespace molt::io
