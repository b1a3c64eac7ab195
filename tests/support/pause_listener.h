// The test side of common/pause_point.h: a Unix-domain socket that a cellar
// child, started with env() in its environment, connects to when it reaches
// the named pause point. The child stays paused until release() or until the
// listener is destroyed (the connection closes), so a failing test never
// leaves it hanging.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "common/fs.h"
#include "support/run.h"

namespace cellar::test {

class PauseListener {
 public:
  explicit PauseListener(std::string point);
  PauseListener(const PauseListener&) = delete;
  PauseListener& operator=(const PauseListener&) = delete;

  // "CELLAR_PAUSE_AT=<point>:<socket>", for spawn()'s env_extra.
  std::string env() const;
  // Waits until a process reports the point and returns its PID; nothing if
  // none did within `seconds` or it sent something else.
  std::optional<pid_t> wait_reached(double seconds = 60);
  // Lets the paused process go on.
  void release();

 private:
  TempDir dir_;
  std::string point_;
  std::string path_;
  UniqueFd listen_;
  UniqueFd conn_;
};

}  // namespace cellar::test
