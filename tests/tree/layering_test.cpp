// The rooms of the tree may use only the rooms below them (STYLE.md "Shape of
// the tree", docs/design.md): the graph is the one CMakeLists.txt declares with
// cellar_library(NAME DEPENDENCIES), and this test fails when a source file
// includes a header of a room its library does not link, directly or through
// the rooms it links. The linker would not notice: static libraries resolve
// symbols late, and a header-only use needs no symbol at all.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// room -> rooms it links directly, from the cellar_library() calls.
std::map<std::string, std::set<std::string>> declared_graph() {
  std::map<std::string, std::set<std::string>> graph;
  const std::string cmake = slurp(fs::path(CELLAR_SOURCE_DIR) / "CMakeLists.txt");
  const std::regex call(R"(cellar_library\((\w+)([^)]*)\))");
  for (auto it = std::sregex_iterator(cmake.begin(), cmake.end(), call); it != std::sregex_iterator(); ++it) {
    std::set<std::string>& deps = graph[(*it)[1].str()];
    std::istringstream words((*it)[2].str());
    for (std::string w; words >> w;)
      if (w.rfind("cellar_", 0) == 0) deps.insert(w.substr(7));
  }
  return graph;
}

std::set<std::string> reachable(const std::map<std::string, std::set<std::string>>& graph, const std::string& room) {
  std::set<std::string> seen{room};
  std::vector<std::string> todo{room};
  while (!todo.empty()) {
    std::string r = todo.back();
    todo.pop_back();
    auto it = graph.find(r);
    if (it == graph.end()) continue;
    for (const std::string& d : it->second)
      if (seen.insert(d).second) todo.push_back(d);
  }
  return seen;
}

// "room/file.h" includes of one source file.
std::set<std::string> included_rooms(const fs::path& file, const std::set<std::string>& rooms) {
  std::set<std::string> out;
  const std::string text = slurp(file);
  const std::regex inc(R"rx(#include\s+"(\w+)/[^"]+")rx");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), inc); it != std::sregex_iterator(); ++it)
    if (rooms.count((*it)[1].str())) out.insert((*it)[1].str());
  return out;
}

}  // namespace

TEST_CASE("the library graph in CMakeLists.txt has every room and no cycle", "[tree]") {
  auto graph = declared_graph();
  for (const char* room : {"common", "pg", "config", "s3", "repo", "etcd", "locks", "wal", "catalog", "backup",
                           "recover", "sync", "check", "metrics", "cron", "cli"})
    CHECK(graph.count(room) == 1);
  for (const auto& [room, deps] : graph)
    for (const std::string& d : deps) {
      INFO(room << " links " << d);
      CHECK(reachable(graph, d).count(room) == 0);
    }
}

TEST_CASE("no room includes a header of a room it does not link", "[tree]") {
  auto graph = declared_graph();
  std::set<std::string> rooms;
  for (const auto& [room, deps] : graph) rooms.insert(room);
  int files = 0;
  for (const std::string& room : rooms) {
    const std::set<std::string> allowed = reachable(graph, room);
    for (const auto& entry : fs::directory_iterator(fs::path(CELLAR_SOURCE_DIR) / room)) {
      const std::string ext = entry.path().extension().string();
      if (ext != ".h" && ext != ".cpp") continue;
      ++files;
      for (const std::string& used : included_rooms(entry.path(), rooms)) {
        INFO(entry.path().string() << " includes a header of " << used);
        CHECK(allowed.count(used) == 1);
      }
    }
  }
  CHECK(files > 50);
}

TEST_CASE("the layering check notices an upward include", "[tree]") {
  // The check above is only worth something if it can fail: a file that
  // pretends to be in common/ and includes cron/ is caught by the same code.
  auto graph = declared_graph();
  std::set<std::string> rooms;
  for (const auto& [room, deps] : graph) rooms.insert(room);
  const fs::path tmp = fs::temp_directory_path() / "cellar_layering_probe.cpp";
  std::ofstream(tmp) << "#include \"common/status.h\"\n#include \"cron/cron.h\"\n";
  const std::set<std::string> used = included_rooms(tmp, rooms);
  fs::remove(tmp);
  const std::set<std::string> allowed = reachable(graph, "common");
  CHECK(used == std::set<std::string>{"common", "cron"});
  CHECK(allowed.count("cron") == 0);
  CHECK(allowed.count("common") == 1);
}
