#include "s3/xml.h"

#include <ctime>
#include <pugixml.hpp>
#include <sstream>

namespace cellar::s3 {
namespace {

// pugixml never throws here: parse errors are results, and the writer
// goes to a string stream.
Result<pugi::xml_node> parse_root(pugi::xml_document& doc, std::string_view body, const char* root) {
  const pugi::xml_parse_result parsed = doc.load_buffer(body.data(), body.size());
  if (!parsed)
    return Status::failed(std::string("malformed XML in the ") + root + " response: " + parsed.description());
  pugi::xml_node node = doc.child(root);
  if (!node) return Status::failed(std::string("the response is not a ") + root + " document");
  return node;
}

std::string text_of(const pugi::xml_node& node, const char* child) { return node.child(child).text().as_string(); }

std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (text.size() > 300) text = text.substr(0, 300) + "...";
  return text;
}

std::string to_text(const pugi::xml_document& doc) {
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw);
  return out.str();
}

}  // namespace

std::optional<S3Error> parse_error(std::string_view body) {
  pugi::xml_document doc;
  auto root = parse_root(doc, body, "Error");
  if (!root) return std::nullopt;
  return S3Error{one_line(text_of(*root, "Code")), one_line(text_of(*root, "Message"))};
}

Result<ListPage> parse_list_page(std::string_view body) {
  pugi::xml_document doc;
  auto root = parse_root(doc, body, "ListBucketResult");
  if (!root) return root.status();
  ListPage page;
  for (pugi::xml_node c : root->children("Contents")) {
    ListPage::Object o;
    o.key = text_of(c, "Key");
    o.size = c.child("Size").text().as_ullong();
    o.mtime = parse_iso8601(text_of(c, "LastModified")).value_or(0);
    page.objects.push_back(std::move(o));
  }
  for (pugi::xml_node p : root->children("CommonPrefixes")) page.prefixes.push_back(text_of(p, "Prefix"));
  page.truncated = root->child("IsTruncated").text().as_bool();
  page.next_token = text_of(*root, "NextContinuationToken");
  if (page.truncated && page.next_token.empty())
    return Status::failed("a truncated listing without NextContinuationToken");
  return page;
}

Result<std::string> parse_upload_id(std::string_view body) {
  pugi::xml_document doc;
  auto root = parse_root(doc, body, "InitiateMultipartUploadResult");
  if (!root) return root.status();
  std::string id = text_of(*root, "UploadId");
  if (id.empty()) return Status::failed("the InitiateMultipartUploadResult has no UploadId");
  return id;
}

Result<UploadsPage> parse_uploads_page(std::string_view body) {
  pugi::xml_document doc;
  auto root = parse_root(doc, body, "ListMultipartUploadsResult");
  if (!root) return root.status();
  UploadsPage page;
  for (pugi::xml_node u : root->children("Upload"))
    page.uploads.emplace_back(text_of(u, "Key"), text_of(u, "UploadId"));
  page.truncated = root->child("IsTruncated").text().as_bool();
  page.next_key_marker = text_of(*root, "NextKeyMarker");
  page.next_upload_id_marker = text_of(*root, "NextUploadIdMarker");
  return page;
}

std::string complete_body(const std::vector<std::string>& etags) {
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("CompleteMultipartUpload");
  for (size_t i = 0; i < etags.size(); ++i) {
    pugi::xml_node part = root.append_child("Part");
    part.append_child("PartNumber").text().set(static_cast<unsigned long long>(i + 1));
    part.append_child("ETag").text().set(etags[i].c_str());
  }
  return to_text(doc);
}

std::string delete_body(const std::vector<std::string>& keys) {
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("Delete");
  root.append_child("Quiet").text().set("true");
  for (const std::string& key : keys) root.append_child("Object").append_child("Key").text().set(key.c_str());
  return to_text(doc);
}

Result<std::vector<std::pair<std::string, S3Error>>> parse_delete_errors(std::string_view body) {
  pugi::xml_document doc;
  auto root = parse_root(doc, body, "DeleteResult");
  if (!root) return root.status();
  std::vector<std::pair<std::string, S3Error>> out;
  for (pugi::xml_node e : root->children("Error"))
    out.emplace_back(text_of(e, "Key"), S3Error{one_line(text_of(e, "Code")), one_line(text_of(e, "Message"))});
  return out;
}

std::optional<int64_t> parse_iso8601(const std::string& text) {
  std::tm tm{};
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec) != 6)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(::timegm(&tm));
}

}  // namespace cellar::s3
