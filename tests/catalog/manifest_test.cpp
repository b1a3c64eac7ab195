// The backup manifest cellar writes for its incrementals and reads for every
// backup (catalog/manifest.h): a round trip through make_manifest and
// parse_manifest, the Manifest-Checksum, and the entries of unchanged
// segments (Cellar-Unchanged-Blocks), which have no stored file.
#include "catalog/manifest.h"

#include <catch2/catch.hpp>

using namespace cellar;
using namespace cellar::catalog;
using Catch::Matchers::Contains;

namespace {

std::vector<ManifestFile> sample() {
  return {
      {"PG_VERSION", 3, "CRC32C", "6d1fd4b2"},
      {"base/5/INCREMENTAL.16400", 16, "CRC32C", "0a1b2c3d", 131072},
      {"base/5/INCREMENTAL.16401", 8220, "CRC32C", "deadbeef"},
      {"base/5/\xc3\xa9t\xc3\xa9", 0, "CRC32C", "00000000"},
  };
}

}  // namespace

TEST_CASE("a manifest cellar writes reads back with its unchanged entries and checksum", "[catalog]") {
  std::string text = make_manifest(sample(), {1, 0x3000028, 0x3000100});
  CHECK(check_manifest_checksum(text));
  CHECK_THAT(text, Contains("\"Cellar-Unchanged-Blocks\": 131072"));
  CHECK_THAT(text, Contains("\"Start-LSN\": \"0/3000028\""));
  auto m = parse_manifest(text);
  REQUIRE(m);
  REQUIRE(m->files.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    INFO(i);
    CHECK(m->files[i].path == sample()[i].path);
    CHECK(m->files[i].size == sample()[i].size);
    CHECK(m->files[i].checksum == sample()[i].checksum);
    CHECK(m->files[i].unchanged_blocks == sample()[i].unchanged_blocks);
  }
  // Only the one entry is unchanged; a PostgreSQL-written entry has no key.
  CHECK_FALSE(m->files[2].unchanged_blocks);
  // Any change to the text before the checksum is found.
  std::string altered = text;
  altered.replace(altered.find("131072"), 6, "131071");
  CHECK_FALSE(check_manifest_checksum(altered));
}

TEST_CASE("a manifest with a bad Cellar-Unchanged-Blocks is refused", "[catalog]") {
  for (const char* value : {"-1", "\"12\"", "4294967296", "1.5"}) {
    INFO(value);
    std::string text = std::string("{ \"PostgreSQL-Backup-Manifest-Version\": 1, \"Files\": [") +
                       "{ \"Path\": \"base/5/INCREMENTAL.1\", \"Size\": 16, \"Cellar-Unchanged-Blocks\": " + value +
                       " }]}";
    auto m = parse_manifest(text);
    REQUIRE_FALSE(m);
    CHECK_THAT(m.status().message(), Contains("Cellar-Unchanged-Blocks"));
  }
}
