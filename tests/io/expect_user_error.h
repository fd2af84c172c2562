// EXPECT that `action` throws molt::UserError whose message contains every `fragment`,
// so tests check that the message names the file, key or line, not only that it failed.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "kernels/error.h"

namespace molt::io::testing {

template <typename Action>
void expect_user_error(Action&& action, std::initializer_list<std::string> fragments) {
  try {
    action();
    ADD_FAILURE() << "expected molt::UserError, nothing was thrown";
  } catch (const UserError& error) {
    std::string message = error.what();
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "message '" << message << "' should mention '" << fragment << "'";
    }
  }
}

}  // namespace molt::io::testing
