// S3's XML documents, read and written: the one adapter of pugixml. Error
// bodies, ListObjectsV2 pages, multipart upload ids and listings, and the
// request bodies of CompleteMultipartUpload and multi-object delete.
// Nothing here sends a request; malformed documents are errors, never
// exceptions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace cellar::s3 {

struct S3Error {
  std::string code;     // "AccessDenied", "NoSuchKey", ...
  std::string message;  // S3's sentence, on one line
};

// The <Error> document of a failed request, or nothing when `body` is not one.
std::optional<S3Error> parse_error(std::string_view body);

struct ListPage {
  struct Object {
    std::string key;
    uint64_t size = 0;
    int64_t mtime = 0;  // LastModified, seconds since the epoch
  };
  std::vector<Object> objects;
  std::vector<std::string> prefixes;  // CommonPrefixes, each ending in the delimiter
  std::string next_token;             // NextContinuationToken when truncated
  bool truncated = false;
};

// A ListObjectsV2 result (ListBucketResult).
Result<ListPage> parse_list_page(std::string_view body);

// The UploadId of an InitiateMultipartUploadResult.
Result<std::string> parse_upload_id(std::string_view body);

struct UploadsPage {
  std::vector<std::pair<std::string, std::string>> uploads;  // (key, upload id)
  std::string next_key_marker;
  std::string next_upload_id_marker;
  bool truncated = false;
};

// A ListMultipartUploadsResult.
Result<UploadsPage> parse_uploads_page(std::string_view body);

// <CompleteMultipartUpload> naming parts 1..n with these ETags.
std::string complete_body(const std::vector<std::string>& etags);

// <Delete><Quiet>true</Quiet> with one <Object><Key> per key.
std::string delete_body(const std::vector<std::string>& keys);

// The <Error> entries of a DeleteResult: (key, error).
Result<std::vector<std::pair<std::string, S3Error>>> parse_delete_errors(std::string_view body);

// Seconds since the epoch of an ISO 8601 UTC time ("2009-10-12T17:50:30.000Z").
std::optional<int64_t> parse_iso8601(const std::string& text);

}  // namespace cellar::s3
