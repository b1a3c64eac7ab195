// Secrets never reach a log or a message (common/redact.h): every form of a
// libpq password, and text without one passes unchanged.
#include "common/redact.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace cellar;
using Catch::Matchers::Contains;

TEST_CASE("key/value passwords are masked, quoted or not", "[common]") {
  struct Case {
    std::string in;
    std::string out;
  };
  const std::vector<Case> cases = {
      {"host=db1 password=TopSecret123 user=cellar", "host=db1 password=******** user=cellar"},
      {"password=TopSecret123", "password=********"},
      {"host=db1 password='Top Secret 123' user=cellar", "host=db1 password=******** user=cellar"},
      {R"(host=db1 password='it\'s a \\ secret' dbname=x)", "host=db1 password=******** dbname=x"},
      {"host=db1 password = TopSecret123 port=5432", "host=db1 password = ******** port=5432"},
      {"PASSWORD = TopSecret123", "PASSWORD = ********"},
      {"Password=TopSecret123", "Password=********"},
      {R"(password=Top\ Secret host=x)", "password=******** host=x"},
      {"password=Top'Secret host=x", "password=******** host=x"},
      {"conninfo \"host=x password=TopSecret123\" is invalid", "conninfo \"host=x password=********\" is invalid"},
      {"PGPASSWORD=TopSecret123 psql", "PGPASSWORD=******** psql"},
      {"a password=one b password='two' c", "a password=******** b password=******** c"},
  };
  for (const auto& c : cases) {
    INFO(c.in);
    CHECK(redact_secrets(c.in) == c.out);
  }
}

TEST_CASE("an unterminated quoted password is masked to the end", "[common]") {
  std::string out = redact_secrets("host=db1 password='Top Secret");
  CHECK(out == "host=db1 password=********");
}

TEST_CASE("passwords in postgres URIs are masked", "[common]") {
  struct Case {
    std::string in;
    std::string out;
  };
  const std::vector<Case> cases = {
      {"postgresql://u:TopSecret123@h/db", "postgresql://u:********@h/db"},
      {"postgres://cellar:TopSecret123@db1:5432/postgres", "postgres://cellar:********@db1:5432/postgres"},
      {"POSTGRESQL://u:TopSecret123@h", "POSTGRESQL://u:********@h"},
      {"postgresql://:TopSecret123@h/db", "postgresql://:********@h/db"},
      {"postgresql://u@h/db?password=TopSecret123", "postgresql://u@h/db?password=********"},
      {"postgresql://u@h/db?sslmode=require&password=TopSecret123&application_name=x",
       "postgresql://u@h/db?sslmode=require&password=********&application_name=x"},
      {"postgresql://u@h/db?password=TopSecret123&sslmode=require",
       "postgresql://u@h/db?password=********&sslmode=require"},
      {"could not connect to postgresql://u:TopSecret123@h/db: timeout",
       "could not connect to postgresql://u:********@h/db: timeout"},
  };
  for (const auto& c : cases) {
    INFO(c.in);
    CHECK(redact_secrets(c.in) == c.out);
  }
}

TEST_CASE("no form leaves any part of the secret behind", "[common]") {
  const std::vector<std::string> texts = {
      "password=TopSecret123",
      "password='TopSecret123'",
      "password = 'TopSecret123' host=x",
      "password=Top'Secret123",
      "password='Top\\'Secret123'",
      "postgresql://u:TopSecret123@h/db",
      "postgresql://u@h?password=TopSecret123",
      "line one\npassword=TopSecret123\nline three",
  };
  for (const auto& t : texts) {
    INFO(t);
    std::string out = redact_secrets(t);
    CHECK(out.find("Secret") == std::string::npos);
    CHECK(out.find("123") == std::string::npos);
    CHECK_THAT(out, Contains("********"));
  }
}

TEST_CASE("text without secrets is unchanged", "[common]") {
  for (const char* text :
       {"", "host=db1 user=cellar dbname=postgres", "postgresql://cellar@db1:5432/postgres",
        "postgresql://db1:5432/postgres?sslmode=require", "http://example.com/a:b", "the password is required",
        "passwordless login", "a=b c='d e'", "ERROR: unknown server \"main\""}) {
    INFO(text);
    CHECK(redact_secrets(text) == text);
  }
}
