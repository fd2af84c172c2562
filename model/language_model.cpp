#include "model/language_model.h"

#include <algorithm>

namespace molt::model {

int64_t TokenBatch::counted_targets() const {
  return std::count_if(targets.begin(), targets.end(),
                       [](int32_t t) { return t != kIgnoreIndex; });
}

}  // namespace molt::model
