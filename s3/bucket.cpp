#include "s3/bucket.h"

#include "s3/client.h"
#include "s3/xml.h"

namespace cellar::s3 {

Status create_bucket(const Options& options) {
  Client client(options);
  // us-east-1 is the default location and must not be named.
  std::string body;
  if (options.region != "us-east-1")
    body = "<CreateBucketConfiguration><LocationConstraint>" + options.region +
           "</LocationConstraint></CreateBucketConfiguration>";
  Call call("PUT", "", "could not create bucket", {}, body);
  call.name = "s3://" + options.bucket;
  call.also_ok = {409};
  auto response = client.call(call);
  if (!response) return response.status();
  if (response->status == 409 && response->body.find("BucketAlreadyOwnedByYou") == std::string::npos)
    return client.fail(call, *response);
  return Status::ok();
}

Result<std::vector<std::pair<std::string, std::string>>> pending_uploads(const Options& options) {
  Client client(options);
  std::vector<std::pair<std::string, std::string>> out;
  std::string key_marker, id_marker;
  for (;;) {
    Call call("GET", "", "could not list the uploads of", {{"uploads", ""}, {"prefix", client.key_of("")}});
    call.name = client.url_of(client.key_of(""));
    if (!key_marker.empty()) call.query.emplace_back("key-marker", key_marker);
    if (!id_marker.empty()) call.query.emplace_back("upload-id-marker", id_marker);
    auto response = client.call(call);
    if (!response) return response.status();
    auto page = parse_uploads_page(response->body);
    if (!page) return Status::failed("could not list the uploads of \"" + call.name + "\": " + page.status().message());
    out.insert(out.end(), page->uploads.begin(), page->uploads.end());
    if (!page->truncated) return out;
    key_marker = page->next_key_marker;
    id_marker = page->next_upload_id_marker;
  }
}

}  // namespace cellar::s3
