// SPDX-License-Identifier: Apache-2.0
#include "vmm/config/json_duplicates.h"

#include <algorithm>
#include <string>
#include <vector>

#include <boost/json/basic_parser_impl.hpp>

namespace cvm::vmm::config::detail {
namespace {

namespace json = boost::json;
using json::error_code;
using json::string_view;

/// SAX handler that keeps, per open container, the keys seen (objects) or the element index
/// (arrays), and stops at the first repeated key.
class DuplicateKeyFinder {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  const std::string& duplicate_path() const { return duplicate_path_; }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) {
    frames_.push_back(Frame{true, {}, {}, 0});
    return true;
  }
  bool on_object_end(std::size_t, error_code&) { return end_container(); }
  bool on_array_begin(error_code&) {
    frames_.push_back(Frame{false, {}, {}, 0});
    return true;
  }
  bool on_array_end(std::size_t, error_code&) { return end_container(); }
  bool on_key_part(string_view s, std::size_t, error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(string_view s, std::size_t, error_code& ec) {
    key_.append(s.data(), s.size());
    Frame& frame = frames_.back();
    if (std::find(frame.keys.begin(), frame.keys.end(), key_) != frame.keys.end()) {
      duplicate_path_ = path_to(key_);
      ec = json::error::syntax;  // any code stops the parser; duplicate_path_ says why
      return false;
    }
    frame.keys.push_back(key_);
    frame.current_key = std::move(key_);
    key_.clear();
    return true;
  }
  bool on_string_part(string_view, std::size_t, error_code&) { return true; }
  bool on_string(string_view, std::size_t, error_code&) { return end_value(); }
  bool on_number_part(string_view, error_code&) { return true; }
  bool on_int64(int64_t, string_view, error_code&) { return end_value(); }
  bool on_uint64(uint64_t, string_view, error_code&) { return end_value(); }
  bool on_double(double, string_view, error_code&) { return end_value(); }
  bool on_bool(bool, error_code&) { return end_value(); }
  bool on_null(error_code&) { return end_value(); }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }

 private:
  struct Frame {
    bool object;
    std::vector<std::string> keys;
    std::string current_key;
    std::size_t index;  // arrays: index of the element being read
  };

  bool end_value() {
    if (!frames_.empty() && !frames_.back().object) {
      ++frames_.back().index;
    }
    return true;
  }
  bool end_container() {
    frames_.pop_back();
    return end_value();
  }

  /// JSON path of `key` in the innermost object, e.g. "disks[1].id".
  std::string path_to(const std::string& key) const {
    std::string path;
    for (std::size_t i = 0; i + 1 < frames_.size(); ++i) {
      const Frame& frame = frames_[i];
      path += frame.object ? (path.empty() ? "" : ".") + frame.current_key
                           : "[" + std::to_string(frame.index) + "]";
    }
    return path.empty() ? key : path + "." + key;
  }

  std::vector<Frame> frames_;
  std::string key_;
  std::string duplicate_path_;
};

}  // namespace

Result<void> check_duplicate_keys(std::string_view text) {
  json::basic_parser<DuplicateKeyFinder> parser{json::parse_options{}};
  error_code ec;
  parser.write_some(false, text.data(), text.size(), ec);
  if (!parser.handler().duplicate_path().empty()) {
    return make_error(ErrorCode::kInvalidArgument, "{}: duplicate key",
                      parser.handler().duplicate_path());
  }
  return ok();
}

}  // namespace cvm::vmm::config::detail
