// The one error type a user can cause (bad config, missing file, corrupt shard, ...).
//
// It lives in the lowest layer so that every layer can raise it; the `molt` command line
// catches it, prints the message once and exits with status 2. Programmer errors use
// assert or std::logic_error instead and are never caught for the user.
#pragma once

#include <stdexcept>
#include <string>

namespace molt {

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& message) : std::runtime_error(message) {}
};

// Exit status for user errors, shared by every subcommand.
constexpr int kUserErrorExit = 2;

}  // namespace molt
