// Removes secrets from text before it reaches a log, a message or the screen:
// `password=...` in libpq key/value conninfo (quoted or not) and the password
// part of a postgres:// URI. String-level on purpose, so it also catches a
// conninfo embedded in a larger message.
#pragma once

#include <string>

namespace cellar {

std::string redact_secrets(const std::string& text);

}  // namespace cellar
