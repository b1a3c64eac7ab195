// Configuration loading (SPEC §4): defaults, precedence of the three kinds of
// file, sources, and every problem collected and reported once.
#include "config/config.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/fs.h"
#include "support/run.h"

using namespace cellar;
using Catch::Matchers::Contains;
using cellar::test::TempDir;

namespace {

// A config tree in a temp dir: <dir>/cellar.toml, <dir>/conf.d/, <dir>/home/.
class Tree {
 public:
  Tree() {
    REQUIRE(make_dirs(home(), 0700));
    REQUIRE(make_dirs(conf_d(), 0700));
  }
  std::string main_file() const { return dir_ / "cellar.toml"; }
  std::string home() const { return dir_ / "home"; }
  std::string conf_d() const { return dir_ / "conf.d"; }
  std::string auto_file() const { return home() + "/.cellar.auto.toml"; }
  // "[global]\nhome = ...\n": two lines, so the caller's text starts on line 3.
  std::string global_head() const { return "[global]\nhome = \"" + home() + "\"\n"; }

  void write_main(const std::string& body) const { test::write_text(main_file(), global_head() + body); }
  void write_conf_d(const std::string& name, const std::string& text) const {
    test::write_text(conf_d() + "/" + name, text);
  }
  void write_auto(const std::string& text) const { test::write_text(auto_file(), text); }

  Result<Config> load() const { return load_config(main_file()); }

 private:
  TempDir dir_;
};

const std::string kConninfo = "conninfo = \"host=/tmp dbname=postgres\"\n";

// Loads a config whose [servers.main] holds `lines` (plus a conninfo).
Result<Config> load_server_lines(const std::string& lines) {
  Tree t;
  t.write_main("[servers.main]\n" + kConninfo + lines);
  return t.load();
}

// Loads a config whose [global] holds `lines` (after home) and one server.
Result<Config> load_global_lines(const std::string& lines) {
  Tree t;
  t.write_main(lines + "[servers.main]\n" + kConninfo);
  return t.load();
}

const std::string& message_of(const Result<Config>& r) { return r.status().message(); }

size_t count_of(const std::string& text, const std::string& word) {
  size_t n = 0;
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("every key has its documented default", "[config]") {
  Tree t;
  t.write_main("[servers.main]\n" + kConninfo);
  auto r = t.load();
  REQUIRE(r.is_ok());
  const Config& c = *r;
  CHECK(c.home() == t.home());
  CHECK(c.lock_directory() == t.home());
  CHECK(c.log_file() == t.home() + "/cellar.log");
  CHECK(c.log_level() == "info");
  CHECK(c.config_dir() == "conf.d");

  const ServerConfig* s = c.find_server("main");
  REQUIRE(s != nullptr);
  // key -> textual default; "(none)" for an optional key without a value.
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"log_level", "info"},
      {"description", ""},
      {"active", "true"},
      {"conninfo", "host=/tmp dbname=postgres"},
      {"streaming_conninfo", "host=/tmp dbname=postgres"},
      {"slot_name", "cellar"},
      {"create_slot", "manual"},
      {"streaming_archiver", "true"},
      {"compression", "none"},
      {"compression_level", "(none)"},
      {"parallel_jobs", "1"},
      {"reuse_backup", "link"},
      {"backup_type", "full"},
      {"full_backup_every", "7"},
      {"retention_policy", "(none)"},
      {"wal_retention_policy", "main"},
      {"minimum_redundancy", "0"},
      {"last_backup_maximum_age", "(none)"},
      {"backup_schedule", "(none)"},
      {"primary_ssh_command", "(none)"},
      {"primary_repository", "(none)"},
      {"receive_wal_backoff_limit", "10"},
      {"receive_wal_timeout", "60"},
      {"backup_stall_timeout", "300"},
      {"primary_conninfo", "(none)"},
      {"repository", "local"},
      {"s3_endpoint", "(none)"},
      {"s3_region", "us-east-1"},
      {"s3_uri_style", "host"},
      {"s3_key_id", "(none)"},
      {"s3_secret_file", "(none)"},
      {"s3_ca_file", "(none)"},
      {"s3_verify_tls", "true"},
      {"s3_storage_class", "(none)"},
      {"s3_part_size", "16"},
      {"upload_concurrency", "4"},
      {"s3_retries", "4"},
      {"encryption", "none"},
      {"encryption_key_file", "(none)"},
  };
  std::set<std::string> covered;
  for (const auto& [key, value] : expected) {
    INFO("key " << key);
    const KeySpec* spec = find_key(key);
    REQUIRE(spec != nullptr);
    const Setting& setting = s->get(spec->key);
    CHECK((setting.is_set ? value_to_string(setting.value) : "(none)") == value);
    covered.insert(key);
  }
  // A key added to the table without a default test here fails this loop.
  for (const KeySpec& spec : key_specs()) {
    if (spec.scope == KeyScope::global_only) continue;
    INFO("key " << spec.name << " has no default check in this test");
    CHECK(covered.count(spec.name) == 1);
  }
  CHECK(s->active());
  CHECK_FALSE(s->passive());
  CHECK(s->streaming_archiver());
  CHECK(s->parallel_jobs() == 1);
  CHECK(s->get(Key::slot_name).source.describe() == "default");
}

TEST_CASE("home defaults to /var/lib/cellar when [global] does not set it", "[config]") {
  TempDir dir;
  test::write_text(dir / "cellar.toml", "[servers.main]\n" + kConninfo);
  auto r = load_config(dir / "cellar.toml");
  REQUIRE(r.is_ok());
  CHECK(r->home() == "/var/lib/cellar");
  CHECK(r->get(Key::home).source.describe() == "default");
}

TEST_CASE("each value shows the file and line it came from", "[config]") {
  Tree t;
  t.write_main(
      "log_level = \"debug\"\n"      // line 3
      "[servers.main]\n"             // line 4
      "description = \"primary\"\n"  // line 5
      + kConninfo);                  // line 6
  auto r = t.load();
  REQUIRE(r.is_ok());
  const ServerConfig* s = r->find_server("main");
  REQUIRE(s != nullptr);
  CHECK(r->get(Key::home).source.describe() == t.main_file() + ":2");
  CHECK(s->get(Key::log_level).source.describe() == t.main_file() + ":3");
  CHECK(s->get(Key::description).source.describe() == t.main_file() + ":5");
  CHECK(s->get(Key::conninfo).source.describe() == t.main_file() + ":6");
  // streaming_conninfo defaults to conninfo, and says where that came from.
  CHECK(s->get(Key::streaming_conninfo).source.describe() == t.main_file() + ":6");
  CHECK(s->get(Key::compression).source.describe() == "default");
}

TEST_CASE("conf.d files override the main file in name order", "[config]") {
  Tree t;
  t.write_main("[servers.main]\n" + kConninfo + "description = \"from main\"\nparallel_jobs = 2\n");
  t.write_conf_d("20-b.toml", "[servers.main]\ndescription = \"from b\"\n");
  t.write_conf_d("10-a.toml", "[servers.main]\ndescription = \"from a\"\nslot_name = \"slot_a\"\n");
  t.write_conf_d("30-c.toml.disabled", "[servers.main]\ndescription = \"ignored\"\n");
  t.write_conf_d("other.toml", "[servers.other]\n" + kConninfo);
  auto r = t.load();
  REQUIRE(r.is_ok());
  const ServerConfig* s = r->find_server("main");
  REQUIRE(s != nullptr);
  CHECK(s->description() == "from b");
  CHECK(s->get(Key::description).source.describe() == t.conf_d() + "/20-b.toml:2");
  CHECK(s->slot_name() == "slot_a");
  CHECK(s->parallel_jobs() == 2);
  REQUIRE(r->servers.size() == 2);
  CHECK(r->servers[0].name == "main");
  CHECK(r->servers[1].name == "other");
}

TEST_CASE("the auto file overrides the main file and conf.d for the same scope", "[config]") {
  Tree t;
  t.write_main("log_level = \"warning\"\ncompression = \"gzip\"\n[servers.main]\n" + kConninfo + "parallel_jobs = 2\n");
  t.write_conf_d("a.toml", "[servers.main]\nparallel_jobs = 3\n");
  t.write_auto("[global]\nlog_level = \"debug\"\n[servers.main]\nparallel_jobs = 4\n");
  auto r = t.load();
  REQUIRE(r.is_ok());
  const ServerConfig* s = r->find_server("main");
  REQUIRE(s != nullptr);
  CHECK(r->log_level() == "debug");
  CHECK(r->get(Key::log_level).source.describe() == t.auto_file() + ":2");
  CHECK(s->parallel_jobs() == 4);
  CHECK(s->get(Key::parallel_jobs).source.describe() == t.auto_file() + ":4");
  CHECK(s->compression() == "gzip");
}

TEST_CASE("a server value in any file beats a global value in any file", "[config]") {
  Tree t;
  t.write_main("compression = \"gzip\"\n[servers.main]\n" + kConninfo + "compression = \"lz4\"\n" +
               "[servers.other]\n" + kConninfo);
  t.write_auto("[global]\ncompression = \"zstd\"\n");
  auto r = t.load();
  REQUIRE(r.is_ok());
  // main's own value (main file) wins over the auto file's global value...
  CHECK(r->find_server("main")->compression() == "lz4");
  // ...and a server without one takes the highest global value.
  CHECK(r->find_server("other")->compression() == "zstd");
  CHECK(r->find_server("other")->get(Key::compression).source.describe() == t.auto_file() + ":2");
}

TEST_CASE("config_dir can point elsewhere, relative to the main file", "[config]") {
  Tree t;
  TempDir elsewhere;
  REQUIRE(make_dirs(t.home() + "/../extra", 0700));
  test::write_text(t.home() + "/../extra/x.toml", "[servers.x]\n" + kConninfo);
  test::write_text(elsewhere / "y.toml", "[servers.y]\n" + kConninfo);

  t.write_main("config_dir = \"extra\"\n");
  auto rel = t.load();
  REQUIRE(rel.is_ok());
  CHECK(rel->find_server("x") != nullptr);

  t.write_main("config_dir = \"" + elsewhere.path() + "\"\n");
  auto abs = t.load();
  REQUIRE(abs.is_ok());
  CHECK(abs->find_server("y") != nullptr);
  CHECK(abs->find_server("x") == nullptr);
}

TEST_CASE("every problem of a file is reported in one failure", "[config]") {
  Tree t;
  t.write_main("[servers.main]\n" + kConninfo +  // lines 3-4
               "no_such_key = 1\n"               // line 5: unknown key
               "active = \"yes\"\n"              // line 6: wrong type
               "compression = \"bzip2\"\n");     // line 7: invalid value
  auto r = t.load();
  REQUIRE_FALSE(r.is_ok());
  const Status& st = r.status();
  CHECK(st.code() == ErrorCode::usage);
  CHECK(exit_code_of(st.code()) == 2);
  CHECK_THAT(st.message(), Contains("\"" + t.main_file() + "\" line 5") && Contains("no_such_key"));
  CHECK_THAT(st.message(), Contains("\"" + t.main_file() + "\" line 6") && Contains("must be a boolean"));
  CHECK_THAT(st.message(), Contains("\"" + t.main_file() + "\" line 7") && Contains("bzip2"));
  CHECK(count_of(st.to_string(), "ERROR:") == 3);
  CHECK(count_of(st.to_string(), "HINT:") == 1);
}

TEST_CASE("problems in several files are collected together", "[config]") {
  Tree t;
  t.write_main("[servers.main]\n" + kConninfo + "parallel_jobs = 0\n");
  t.write_conf_d("a.toml", "[servers.a]\n" + kConninfo + "bogus = true\n");
  t.write_conf_d("b.toml", "[servers.\"all\"]\n" + kConninfo);
  auto r = t.load();
  REQUIRE_FALSE(r.is_ok());
  CHECK_THAT(message_of(r), Contains(t.main_file()) && Contains("parallel_jobs"));
  CHECK_THAT(message_of(r), Contains(t.conf_d() + "/a.toml") && Contains("bogus"));
  CHECK_THAT(message_of(r), Contains(t.conf_d() + "/b.toml") && Contains("\"all\""));
  CHECK(count_of(r.status().to_string(), "ERROR:") == 3);
}

TEST_CASE("malformed TOML is reported with its line", "[config]") {
  Tree t;
  t.write_main("[servers.main]\n" + kConninfo + "description = \"unterminated\n");  // line 5
  auto r = t.load();
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == ErrorCode::usage);
  CHECK_THAT(message_of(r), Contains("\"" + t.main_file() + "\" line 5") && Contains("malformed TOML"));
  CHECK_FALSE(r.status().hint().empty());
}

TEST_CASE("malformed TOML in conf.d names that file", "[config]") {
  Tree t;
  t.write_main("[servers.main]\n" + kConninfo);
  t.write_conf_d("broken.toml", "[servers.b]\nconninfo = = 1\n");
  auto r = t.load();
  REQUIRE_FALSE(r.is_ok());
  CHECK_THAT(message_of(r), Contains("\"" + t.conf_d() + "/broken.toml\" line 2"));
}

TEST_CASE("an unknown key is rejected with its name and line", "[config]") {
  auto r = load_server_lines("compresion = \"gzip\"\n");  // line 5
  REQUIRE_FALSE(r.is_ok());
  CHECK_THAT(message_of(r), Contains("unknown key \"compresion\"") && Contains("line 5"));
  CHECK_THAT(message_of(r), Contains("[servers.main]"));

  auto g = load_global_lines("colour = \"blue\"\n");
  REQUIRE_FALSE(g.is_ok());
  CHECK_THAT(message_of(g), Contains("unknown key \"colour\" in [global]"));

  Tree t;
  test::write_text(t.main_file(), "verbose = true\n" + t.global_head());
  auto top = t.load();
  REQUIRE_FALSE(top.is_ok());
  CHECK_THAT(message_of(top), Contains("unknown top-level key \"verbose\"") && Contains("line 1"));
}

TEST_CASE("a value of the wrong type is rejected", "[config]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"active = \"yes\"\n", "must be a boolean"},       {"parallel_jobs = \"2\"\n", "must be an integer"},
      {"parallel_jobs = 2.0\n", "must be an integer"},   {"description = 5\n", "must be a string"},
      {"streaming_archiver = 1\n", "must be a boolean"}, {"slot_name = [\"a\"]\n", "must be a string"},
  };
  for (const auto& [line, why] : cases) {
    INFO(line);
    auto r = load_server_lines(line);
    REQUIRE_FALSE(r.is_ok());
    CHECK_THAT(message_of(r), Contains(why) && Contains("line 5"));
  }
}

TEST_CASE("validated keys accept their valid values and reject the others", "[config]") {
  struct Case {
    const char* line;
    bool valid;
  };
  const std::vector<Case> cases = {
      {"compression = \"none\"", true},
      {"compression = \"gzip\"", true},
      {"compression = \"lz4\"", true},
      {"compression = \"zstd\"", true},
      {"compression = \"bzip2\"", false},
      {"compression = \"ZSTD\"", false},
      {"compression = \"\"", false},
      {"create_slot = \"auto\"", true},
      {"create_slot = \"manual\"", true},
      {"create_slot = \"yes\"", false},
      {"reuse_backup = \"link\"", true},
      {"reuse_backup = \"off\"", true},
      {"reuse_backup = \"copy\"", false},
      {"retention_policy = \"REDUNDANCY 2\"", true},
      {"retention_policy = \"RECOVERY WINDOW OF 2 WEEKS\"", true},
      {"retention_policy = \"RECOVERY WINDOW OF 1 DAY\"", true},
      {"retention_policy = \"RECOVERY WINDOW OF 30 DAYS\"", true},
      {"retention_policy = \"RECOVERY WINDOW OF 6 MONTHS\"", true},
      {"retention_policy = \"REDUNDANCY 0\"", false},
      {"retention_policy = \"REDUNDANCY\"", false},
      {"retention_policy = \"REDUNDANCY -1\"", false},
      {"retention_policy = \"RECOVERY WINDOW OF 2 YEARS\"", false},
      {"retention_policy = \"RECOVERY WINDOW 2 WEEKS\"", false},
      {"retention_policy = \"RECOVERY WINDOW OF 0 DAYS\"", false},
      {"retention_policy = \"KEEP 3\"", false},
      {"wal_retention_policy = \"main\"", true},
      {"wal_retention_policy = \"simple\"", false},
      {"last_backup_maximum_age = \"1 DAYS\"", true},
      {"last_backup_maximum_age = \"12 HOURS\"", true},
      {"last_backup_maximum_age = \"2 WEEKS\"", true},
      {"last_backup_maximum_age = \"1 MONTH\"", true},
      {"last_backup_maximum_age = \"0 DAYS\"", false},
      {"last_backup_maximum_age = \"1 DAYZ\"", false},
      {"last_backup_maximum_age = \"DAYS\"", false},
      {"last_backup_maximum_age = \"1\"", false},  // one second: below the minute minimum
      {"last_backup_maximum_age = \"12h\"", true},
      {"last_backup_maximum_age = 86400", true},
      {"last_backup_maximum_age = 59", false},
      {"backup_schedule = \"daily 02:00\"", true},
      {"backup_schedule = \"daily 23:59\"", true},
      {"backup_schedule = \"6 HOURS\"", true},
      {"backup_schedule = \"30 MINUTES\"", true},
      {"backup_schedule = \"daily 24:00\"", false},
      {"backup_schedule = \"daily 2:00\"", false},
      {"backup_schedule = \"daily 02:60\"", false},
      {"backup_schedule = \"weekly 02:00\"", false},
      {"backup_schedule = \"0 HOURS\"", false},
      {"parallel_jobs = 1", true},
      {"parallel_jobs = 64", true},
      {"parallel_jobs = 0", false},
      {"parallel_jobs = 65", false},
      {"parallel_jobs = -1", false},
      {"slot_name = \"cellar\"", true},
      {"slot_name = \"cellar_2\"", true},
      {"slot_name = \"Cellar\"", false},
      {"slot_name = \"cellar-slot\"", false},
      {"slot_name = \"\"", false},
      {"log_level = \"debug\"", true},
      {"log_level = \"info\"", true},
      {"log_level = \"warning\"", true},
      {"log_level = \"error\"", true},
      {"log_level = \"off\"", true},
      {"log_level = \"verbose\"", false},
      {"minimum_redundancy = 0", true},
      {"minimum_redundancy = 3", true},
      {"minimum_redundancy = -1", false},
      {"receive_wal_backoff_limit = 60", true},
      {"receive_wal_backoff_limit = 0", false},
      {"receive_wal_backoff_limit = \"30s\"", true},
      {"receive_wal_backoff_limit = \"1 MINUTE\"", true},
      {"receive_wal_backoff_limit = \"2h\"", false},
      {"receive_wal_backoff_limit = -5", false},
      {"receive_wal_backoff_limit = true", false},
      {"primary_ssh_command = \"ssh cellar@primary cellar\"", true},
      {"primary_ssh_command = \"\"", false},
      {"primary_repository = \"s3://primary-bucket/cellar\"", true},
      {"primary_repository = \"/mnt/nfs/cellar\"", true},
      {"primary_repository = \"local\"", false},
      {"primary_repository = \"relative/path\"", false},
      {"primary_repository = \"primary_ssh_command\"", false},
      {"compression_level = 5", false},  // compression is "none"
      {"compression = \"gzip\"\ncompression_level = 1", true},
      {"compression = \"gzip\"\ncompression_level = 9", true},
      {"compression = \"gzip\"\ncompression_level = 10", false},
      {"compression = \"gzip\"\ncompression_level = 0", false},
      {"compression = \"lz4\"\ncompression_level = 12", true},
      {"compression = \"lz4\"\ncompression_level = 13", false},
      {"compression = \"zstd\"\ncompression_level = 19", true},
      {"compression = \"zstd\"\ncompression_level = 20", false},
  };
  for (const auto& c : cases) {
    INFO(c.line);
    auto r = load_server_lines(std::string(c.line) + "\n");
    CHECK(r.is_ok() == c.valid);
    if (!r.is_ok()) {
      CHECK(r.status().code() == ErrorCode::usage);
      CHECK_THAT(message_of(r), Contains("line 5") || Contains("line 6"));
    }
  }
  // A 64-character slot name is one too many for PostgreSQL.
  CHECK_FALSE(load_server_lines("slot_name = \"" + std::string(64, 'a') + "\"\n").is_ok());
  CHECK(load_server_lines("slot_name = \"" + std::string(63, 'a') + "\"\n").is_ok());
}

TEST_CASE("global-only path keys must be absolute", "[config]") {
  CHECK(load_global_lines("log_file = \"\"\n").is_ok());
  CHECK(load_global_lines("log_file = \"/tmp/cellar-test.log\"\n").is_ok());
  CHECK(load_global_lines("lock_directory = \"/tmp\"\n").is_ok());
  CHECK_FALSE(load_global_lines("log_file = \"cellar.log\"\n").is_ok());
  CHECK_FALSE(load_global_lines("lock_directory = \"locks\"\n").is_ok());
  CHECK_FALSE(load_global_lines("config_dir = \"\"\n").is_ok());

  TempDir dir;
  test::write_text(dir / "cellar.toml", "[global]\nhome = \"relative/home\"\n");
  auto r = load_config(dir / "cellar.toml");
  REQUIRE_FALSE(r.is_ok());
  CHECK_THAT(message_of(r), Contains("home") && Contains("absolute"));
}

TEST_CASE("global-only keys are rejected in a server table", "[config]") {
  for (const KeySpec& spec : key_specs()) {
    if (spec.scope != KeyScope::global_only) continue;
    INFO(spec.name);
    auto r = load_server_lines(std::string(spec.name) + " = \"/tmp/x\"\n");
    REQUIRE_FALSE(r.is_ok());
    CHECK_THAT(message_of(r), Contains(std::string("\"") + spec.name + "\" may only be set in [global]"));
  }
}

TEST_CASE("invalid server names are rejected and valid ones accepted", "[config]") {
  const std::vector<std::string> invalid = {
      "../x", "all", "global", "cellar", ".hidden", "-x", std::string(65, 'a'), "a/b", "db-20240101T000000-sync",
  };
  for (const auto& name : invalid) {
    INFO(name);
    Tree t;
    t.write_main("[servers.\"" + name + "\"]\n" + kConninfo);  // line 3
    auto r = t.load();
    REQUIRE_FALSE(r.is_ok());
    CHECK_THAT(message_of(r), Contains("invalid server name") && Contains("line 3"));
  }
  const std::vector<std::string> valid = {"main",    "main-2",          "db.prod_1",
                                          "pg-sync", "20240101T000000", std::string(64, 'a')};
  for (const auto& name : valid) {
    INFO(name);
    Tree t;
    t.write_main("[servers.\"" + name + "\"]\n" + kConninfo);
    auto r = t.load();
    REQUIRE(r.is_ok());
    CHECK(r->find_server(name) != nullptr);
  }
}

TEST_CASE("conninfo is required unless the server is passive", "[config]") {
  Tree t;
  t.write_main("[servers.main]\ndescription = \"no conninfo\"\n");  // line 3
  auto r = t.load();
  REQUIRE_FALSE(r.is_ok());
  CHECK_THAT(message_of(r),
             Contains("server \"main\" has no conninfo") && Contains(t.main_file()) && Contains("line 3"));

  t.write_main("[servers.main]\nprimary_ssh_command = \"ssh cellar@primary cellar\"\n");
  auto passive = t.load();
  REQUIRE(passive.is_ok());
  CHECK(passive->find_server("main")->passive());
  CHECK_FALSE(passive->find_server("main")->has(Key::conninfo));

  t.write_main("[servers.main]\nprimary_repository = \"s3://primary-bucket/cellar\"\n");
  auto direct = t.load();
  REQUIRE(direct.is_ok());
  CHECK(direct->find_server("main")->passive());

  // One way to the primary, not two.
  t.write_main(
      "[servers.main]\nprimary_ssh_command = \"ssh cellar@primary cellar\"\nprimary_repository = "
      "\"/mnt/nfs/cellar\"\n");
  auto both = t.load();
  REQUIRE_FALSE(both.is_ok());
  CHECK_THAT(message_of(both), Contains("sets both primary_ssh_command and primary_repository") && Contains("line 5"));

  // Its own copy, never the primary's repository itself.
  t.write_main("[servers.main]\nrepository = \"s3://bk1/cellar/\"\nprimary_repository = \"s3://bk1/cellar\"\n");
  auto same = t.load();
  REQUIRE_FALSE(same.is_ok());
  CHECK_THAT(message_of(same), Contains("primary_repository equal to its own repository") && Contains("line 5"));
  t.write_main("[servers.main]\nrepository = \"s3://bk1/cellar/copy\"\nprimary_repository = \"s3://bk1/cellar\"\n");
  CHECK(t.load().is_ok());
}

TEST_CASE("conninfo, streaming_conninfo and primary_conninfo with invalid syntax are rejected", "[config]") {
  const std::vector<std::string> bad = {
      "conninfo = \"host=/tmp bogus\"\n",
      "conninfo = \"nosuchoption=1\"\n",
      "conninfo = \"host='unterminated\"\n",
      "conninfo = \"postgresql://[::1\"\n",
  };
  for (const auto& line : bad) {
    INFO(line);
    Tree t;
    t.write_main("[servers.main]\n" + line);  // line 4
    auto r = t.load();
    REQUIRE_FALSE(r.is_ok());
    CHECK_THAT(message_of(r), Contains("invalid conninfo") && Contains("line 4"));
  }
  auto streaming = load_server_lines("streaming_conninfo = \"host=/tmp junk\"\n");
  REQUIRE_FALSE(streaming.is_ok());
  CHECK_THAT(message_of(streaming), Contains("streaming_conninfo") && Contains("invalid conninfo"));

  CHECK(load_server_lines("streaming_conninfo = \"postgresql://cellar@db1:5432/postgres\"\n").is_ok());
  auto primary = load_server_lines("primary_conninfo = \"host=/tmp junk\"\n");
  REQUIRE_FALSE(primary.is_ok());
  CHECK_THAT(message_of(primary), Contains("primary_conninfo") && Contains("invalid conninfo"));
  CHECK(load_server_lines("primary_conninfo = \"host=db0 user=cellar\"\n").is_ok());
}

TEST_CASE("receive_wal_timeout takes a duration from 2 s to 1 h", "[config]") {
  CHECK(load_server_lines("receive_wal_timeout = \"10s\"\n").is_ok());
  for (const char* bad : {"receive_wal_timeout = 1\n", "receive_wal_timeout = \"2h\"\n"}) {
    INFO(bad);
    auto r = load_server_lines(bad);
    REQUIRE_FALSE(r.is_ok());
    CHECK_THAT(message_of(r), Contains("receive_wal_timeout"));
  }
}

TEST_CASE("a [global] table in conf.d is rejected", "[config]") {
  Tree t;
  t.write_main("[servers.main]\n" + kConninfo);
  t.write_conf_d("g.toml", "[global]\nlog_level = \"debug\"\n");
  auto r = t.load();
  REQUIRE_FALSE(r.is_ok());
  CHECK_THAT(message_of(r), Contains(t.conf_d() + "/g.toml") && Contains("[global] is not allowed here"));
}

TEST_CASE("home and config_dir cannot be set in the auto file", "[config]") {
  for (const std::string key : {"home", "config_dir"}) {
    INFO(key);
    Tree t;
    t.write_main("[servers.main]\n" + kConninfo);
    t.write_auto("[global]\n" + key + " = \"/elsewhere\"\n");
    auto r = t.load();
    REQUIRE_FALSE(r.is_ok());
    CHECK_THAT(message_of(r),
               Contains(t.auto_file()) && Contains("\"" + key + "\" cannot be set here") && Contains("line 2"));
  }
}

TEST_CASE("a missing main file is a usage error with a hint", "[config]") {
  TempDir dir;
  auto r = load_config(dir / "nope.toml");
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == ErrorCode::usage);
  CHECK_THAT(message_of(r), Contains(dir / "nope.toml"));
  CHECK_THAT(r.status().hint(), Contains("-c FILE"));
}

TEST_CASE("the config path comes from -c, then CELLAR_CONFIG, then /etc", "[config]") {
  const char* saved = std::getenv("CELLAR_CONFIG");
  std::string saved_value = saved ? saved : "";
  ::setenv("CELLAR_CONFIG", "/from/env.toml", 1);
  CHECK(default_config_path("/given.toml") == "/given.toml");
  CHECK(default_config_path("") == "/from/env.toml");
  ::unsetenv("CELLAR_CONFIG");
  CHECK(default_config_path("") == "/etc/cellar/cellar.toml");
  if (saved) ::setenv("CELLAR_CONFIG", saved_value.c_str(), 1);
}

TEST_CASE("the lock backend keys take a list or one URL, a TTL duration and a /-delimited prefix", "[config]") {
  auto list = load_global_lines(
      "lock_backend = \"etcd\"\netcd_endpoints = [\"http://10.0.0.1:2379\", \"https://etcd2:2379\"]\n"
      "lock_ttl = \"30s\"\netcd_prefix = \"/prod/cellar/\"\n");
  REQUIRE(list.is_ok());
  CHECK(list->lock_backend() == "etcd");
  CHECK(list->etcd_endpoints() == StringList{"http://10.0.0.1:2379", "https://etcd2:2379"});
  CHECK(list->lock_ttl() == std::chrono::seconds(30));
  CHECK(list->etcd_prefix() == "/prod/cellar/");
  auto one = load_global_lines("etcd_endpoints = \"http://127.0.0.1:2379\"\nlock_ttl = 5\n");
  REQUIRE(one.is_ok());
  CHECK(one->etcd_endpoints() == StringList{"http://127.0.0.1:2379"});
  CHECK(one->lock_ttl() == std::chrono::seconds(5));
  auto defaults = load_global_lines("");
  REQUIRE(defaults.is_ok());
  CHECK(defaults->lock_backend() == "file");
  CHECK(defaults->etcd_endpoints() == StringList{"http://127.0.0.1:2379"});
  CHECK(defaults->lock_ttl() == std::chrono::seconds(10));
  for (const char* bad :
       {"lock_backend = \"zookeeper\"\n", "etcd_endpoints = []\n", "etcd_endpoints = [\"etcd1:2379\"]\n",
        "etcd_endpoints = [1, 2]\n", "etcd_endpoints = [\"http://a,b\"]\n",
        "etcd_endpoints = \"http://root:secret@etcd1:2379\"\n", "lock_ttl = \"1s\"\n", "lock_ttl = \"2 weeks\"\n",
        "etcd_prefix = \"cellar/\"\n", "etcd_prefix = \"/cellar\"\n", "etcd_password_file = \"pw\"\n"}) {
    INFO(bad);
    auto r = load_global_lines(bad);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == ErrorCode::usage);
  }
  CHECK_FALSE(load_server_lines("lock_backend = \"etcd\"\n").is_ok());  // global-only
}

TEST_CASE("the daemon keys take exit codes as integers, KIND:SERVER patterns and off or ADDRESS:PORT", "[config]") {
  auto set = load_global_lines(
      "daemon_exit_codes = [0, 2, 75]\ndaemon_lockable = [\"backup:*\", \"backup-id:main\"]\n"
      "daemon_metrics_listen = \"127.0.0.1:9187\"\ndaemon_interval = \"2min\"\ndaemon_forever = false\n"
      "daemon_socket = \"/run/cellar/daemon.sock\"\n");
  REQUIRE(set.is_ok());
  CHECK(set->daemon_exit_codes() == StringList{"0", "2", "75"});
  CHECK(set->daemon_lockable() == StringList{"backup:*", "backup-id:main"});
  CHECK(set->daemon_metrics_listen() == "127.0.0.1:9187");
  CHECK(set->daemon_interval() == std::chrono::seconds(120));
  CHECK_FALSE(set->daemon_forever());
  CHECK(set->daemon_socket() == "/run/cellar/daemon.sock");
  auto defaults = load_global_lines("lock_directory = \"/run/cellar\"\n");
  REQUIRE(defaults.is_ok());
  CHECK(defaults->daemon_exit_codes() == StringList{"0", "2"});
  CHECK(defaults->daemon_lockable().empty());
  CHECK(defaults->daemon_metrics_listen() == "off");
  CHECK(defaults->daemon_interval() == std::chrono::seconds(60));
  CHECK(defaults->daemon_forever());
  CHECK(defaults->daemon_socket() == "/run/cellar/.cellar-daemon.sock");
  CHECK(defaults->daemon_transcript() == defaults->home() + "/daemon.log");
  CHECK(load_global_lines("daemon_exit_codes = []\n")->daemon_exit_codes().empty());
  for (const char* bad :
       {"daemon_exit_codes = [256]\n", "daemon_exit_codes = [-1]\n", "daemon_exit_codes = [\"zero\"]\n",
        "daemon_lockable = [\"backup\"]\n", "daemon_lockable = [\":main\"]\n", "daemon_metrics_listen = \"9187\"\n",
        "daemon_metrics_listen = \"localhost:9187\"\n", "daemon_metrics_listen = \"127.0.0.1:70000\"\n",
        "daemon_interval = 0\n", "daemon_socket = \"daemon.sock\"\n", "daemon_transcript = \"daemon.log\"\n"}) {
    INFO(bad);
    auto r = load_global_lines(bad);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == ErrorCode::usage);
  }
  CHECK_FALSE(load_server_lines("daemon_interval = 5\n").is_ok());  // global-only
}
