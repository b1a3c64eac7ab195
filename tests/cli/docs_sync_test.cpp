// docs/commands.md follows the command table (STYLE.md "One table for the
// commands"): every command of cli::command_table() has a `## <name>`
// section, every long option it declares is written as `--<option>` inside
// that section, its "Locks:" line names the lock kinds the table declares
// (locks::LockKind, in the order taken), no `## ` heading names a command the
// table does not have, and every configuration key of config::key_specs()
// appears in the Configuration section. Adding a command, an option, a lock or
// a key without documenting it fails here.
#include <catch2/catch.hpp>
#include <cctype>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cli/command.h"
#include "config/config.h"
#include "locks/lock_names.h"

namespace {

namespace po = boost::program_options;

// The `## ` headings of the intro, which name no command.
const std::set<std::string> kIntroHeadings = {
    "Synopsis", "Global options", "Exit codes", "Messages", "JSON output", "Configuration",
};

std::string read_commands_md() {
  std::ifstream in(CELLAR_SOURCE_DIR "/docs/commands.md");
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Section {
  std::string title;  // the heading's text after "## "
  std::string body;   // up to the next "## " heading; "### " subsections stay inside
};

// The level-2 sections in file order; headings inside ``` fences do not count.
std::vector<Section> sections_of(const std::string& text) {
  std::vector<Section> out;
  std::istringstream in(text);
  std::string line;
  bool in_fence = false;
  while (std::getline(in, line)) {
    if (line.rfind("```", 0) == 0) in_fence = !in_fence;
    if (!in_fence && line.rfind("## ", 0) == 0) {
      std::string title = line.substr(3);
      while (!title.empty() && (title.back() == ' ' || title.back() == '\r')) title.pop_back();
      out.push_back({title, ""});
    } else if (!out.empty()) {
      out.back().body += line + "\n";
    }
  }
  return out;
}

std::vector<const Section*> sections_titled(const std::vector<Section>& sections, const std::string& title) {
  std::vector<const Section*> found;
  for (const auto& s : sections)
    if (s.title == title) found.push_back(&s);
  return found;
}

// `word` occurs in `text` not followed by another option-name character, so
// that "--wait" is not found in "--wait-timeout".
bool mentions(const std::string& text, const std::string& word) {
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
    size_t end = at + word.size();
    char next = end < text.size() ? text[end] : ' ';
    bool continues = std::isalnum(static_cast<unsigned char>(next)) || next == '-' || next == '_';
    if (!continues) return true;
  }
  return false;
}

// The text of a section's "Locks:" paragraph, after "Locks: " (the line may be
// a "- Locks:" bullet), up to the next blank line or bullet; "" if none.
std::string locks_paragraph(const std::string& body) {
  std::istringstream in(body);
  std::string line, text;
  bool inside = false;
  while (std::getline(in, line)) {
    if (inside && (line.empty() || line.rfind("- ", 0) == 0)) break;
    if (inside) text += " " + line.substr(line.find_first_not_of(' '));
    for (const char* start : {"- Locks: ", "Locks: "})
      if (!inside && line.rfind(start, 0) == 0) {
        text = line.substr(std::string(start).size());
        inside = true;
      }
  }
  return text;
}

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; }

// Where `word` first stands alone in `text`: not inside a longer name such as
// sync-backup, global-cron or .main-backup.lock. npos if nowhere.
size_t find_word(const std::string& text, const std::string& word) {
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
    size_t end = at + word.size();
    bool starts = at == 0 || !is_name_char(text[at - 1]);
    bool ends = end == text.size() || !is_name_char(text[end]);
    if (starts && ends) return at;
  }
  return std::string::npos;
}

// The lock kind named first in `text`, if any.
std::optional<cellar::locks::LockKind> first_kind_in(const std::string& text) {
  std::optional<cellar::locks::LockKind> first;
  size_t first_at = std::string::npos;
  for (auto kind : cellar::locks::all_kinds()) {
    size_t at = find_word(text, cellar::locks::kind_name(kind));
    if (at < first_at) first_at = at, first = kind;
  }
  return first;
}

std::vector<std::string> long_options_of(const cellar::cli::Command& c) {
  po::options_description declared;
  if (c.declare) c.declare(declared);
  std::vector<std::string> names;
  for (const auto& option : declared.options()) names.push_back(option->long_name());
  return names;
}

}  // namespace

TEST_CASE("docs/commands.md has exactly one section for every command of the table", "[cli]") {
  auto sections = sections_of(read_commands_md());
  for (const auto& c : cellar::cli::command_table()) {
    INFO("command " << c.name << ": add a '## " << c.name << "' section to docs/commands.md");
    CHECK(sections_titled(sections, c.name).size() == 1);
  }
}

TEST_CASE("every option a command declares is written as --option in its section of docs/commands.md", "[cli]") {
  auto sections = sections_of(read_commands_md());
  for (const auto& c : cellar::cli::command_table()) {
    auto found = sections_titled(sections, c.name);
    if (found.empty()) continue;  // reported by the test above
    for (const auto& option : long_options_of(c)) {
      INFO("command " << c.name << ": document --" << option << " in its section of docs/commands.md");
      CHECK(mentions(found.front()->body, "--" + option));
    }
  }
}

TEST_CASE("the Locks line of each command in docs/commands.md names the lock kinds of the table, in order", "[cli]") {
  auto sections = sections_of(read_commands_md());
  for (const auto& c : cellar::cli::command_table()) {
    auto found = sections_titled(sections, c.name);
    if (found.empty()) continue;  // reported by the first test
    std::string locks = locks_paragraph(found.front()->body);
    INFO("command " << c.name << ": its section's Locks line is \"" << locks << "\"");
    REQUIRE_FALSE(locks.empty());
    if (c.extras.lock_named_by_kind) {
      CHECK(mentions(locks, "`KIND`"));
      continue;
    }
    CHECK((locks.rfind("none", 0) == 0) == c.locks.empty());
    if (c.locks.empty()) continue;
    CHECK(first_kind_in(locks) == c.locks.front());
    size_t previous = 0;
    for (auto kind : c.locks) {
      INFO("lock kind " << cellar::locks::kind_name(kind));
      size_t at = find_word(locks, cellar::locks::kind_name(kind));
      bool named = at != std::string::npos;
      CHECK(named);
      if (!named) continue;
      CHECK(at >= previous);
      previous = at;
    }
  }
}

TEST_CASE("docs/commands.md documents no command that is not in the table", "[cli]") {
  for (const auto& s : sections_of(read_commands_md())) {
    if (kIntroHeadings.count(s.title)) continue;
    INFO("'## " << s.title << "' names no command of cli::command_table() (nor an intro heading of this test)");
    CHECK(cellar::cli::find_command(s.title) != nullptr);
  }
}

TEST_CASE("every configuration key is documented in the Configuration section of docs/commands.md", "[cli]") {
  auto sections = sections_of(read_commands_md());  // kept: found points into it
  auto found = sections_titled(sections, "Configuration");
  REQUIRE(found.size() == 1);
  for (const auto& key : cellar::key_specs()) {
    INFO("configuration key " << key.name << ": add it to the Configuration section of docs/commands.md");
    CHECK(mentions(found.front()->body, std::string("`") + key.name + "`"));
  }
}
