// A small JSON Schema checker for the keywords docs/report-schema.json uses, so that unit
// tests catch schema drift without a validator library (the integration test uses jsonschema).
#pragma once

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mx::report::testing {

/// docs/report-schema.json, found relative to this header (tests/unit/report/).
inline nlohmann::json load_schema() {
  std::string here = __FILE__;
  std::string root = here.substr(0, here.rfind("tests/unit/report/"));
  std::ifstream in(root + "docs/report-schema.json");
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
}

class SchemaChecker {
 public:
  explicit SchemaChecker(nlohmann::json root) : root_(std::move(root)) {}

  /// Violations as "<json pointer>: <what>"; empty when `doc` conforms. Supported: $ref (local),
  /// type, const, enum, properties, required, additionalProperties (false), items, anyOf,
  /// allOf, if/then, not, minimum, maximum, minLength, pattern. Anything else is reported.
  std::vector<std::string> check(const nlohmann::json& doc) {
    errors_.clear();
    visit(root_, doc, "");
    return errors_;
  }

 private:
  bool valid(const nlohmann::json& schema, const nlohmann::json& doc) {
    auto saved = std::move(errors_);
    errors_.clear();
    visit(schema, doc, "");
    bool ok = errors_.empty();
    errors_ = std::move(saved);
    return ok;
  }

  static bool has_type(const nlohmann::json& doc, const std::string& type) {
    if (type == "object") return doc.is_object();
    if (type == "array") return doc.is_array();
    if (type == "string") return doc.is_string();
    if (type == "integer") return doc.is_number_integer();
    if (type == "number") return doc.is_number();
    if (type == "boolean") return doc.is_boolean();
    if (type == "null") return doc.is_null();
    return false;
  }

  void visit(const nlohmann::json& schema, const nlohmann::json& doc, const std::string& at) {
    auto err = [&](const std::string& what) {
      errors_.push_back((at.empty() ? "/" : at) + ": " + what);
    };
    for (const auto& [key, value] : schema.items()) {
      if (key == "$schema" || key == "$id" || key == "$defs" || key == "title" ||
          key == "description" || key == "then") {
        continue;
      } else if (key == "$ref") {
        std::string ref = value.get<std::string>();
        visit(root_.at(nlohmann::json::json_pointer(ref.substr(1))), doc, at);
      } else if (key == "type") {
        if (!has_type(doc, value.get<std::string>())) err("not of type " + value.dump());
      } else if (key == "const") {
        if (doc != value) err("not " + value.dump());
      } else if (key == "enum") {
        bool found = false;
        for (const auto& v : value) found = found || v == doc;
        if (!found) err(doc.dump() + " not in " + value.dump());
      } else if (key == "properties") {
        if (!doc.is_object()) continue;
        for (const auto& [name, sub] : value.items())
          if (doc.contains(name)) visit(sub, doc.at(name), at + "/" + name);
      } else if (key == "required") {
        if (!doc.is_object()) continue;
        for (const auto& name : value)
          if (!doc.contains(name.get<std::string>())) err("missing " + name.dump());
      } else if (key == "additionalProperties") {
        if (!doc.is_object() || value != false) continue;
        for (const auto& [name, v] : doc.items())
          if (!schema.at("properties").contains(name)) err("unexpected key " + name);
      } else if (key == "items") {
        if (!doc.is_array()) continue;
        for (std::size_t i = 0; i < doc.size(); ++i)
          visit(value, doc[i], at + "/" + std::to_string(i));
      } else if (key == "anyOf") {
        bool any = false;
        for (const auto& sub : value) any = any || valid(sub, doc);
        if (!any) err("matches no alternative of anyOf");
        if (!any)
          for (const auto& sub : value) visit(sub, doc, at);  // say why
      } else if (key == "allOf") {
        for (const auto& sub : value) visit(sub, doc, at);
      } else if (key == "if") {
        if (valid(value, doc) && schema.contains("then")) visit(schema.at("then"), doc, at);
      } else if (key == "not") {
        if (valid(value, doc)) err("matches the 'not' schema " + value.dump());
      } else if (key == "minimum") {
        if (doc.is_number() && doc.get<double>() < value.get<double>()) err("below minimum");
      } else if (key == "maximum") {
        if (doc.is_number() && doc.get<double>() > value.get<double>()) err("above maximum");
      } else if (key == "minLength") {
        if (doc.is_string() && doc.get<std::string>().size() < value.get<std::size_t>())
          err("shorter than minLength");
      } else if (key == "pattern") {
        if (doc.is_string() &&
            !std::regex_search(doc.get<std::string>(), std::regex(value.get<std::string>())))
          err(doc.dump() + " does not match " + value.dump());
      } else {
        err("schema keyword not supported by the test checker: " + key);
      }
    }
  }

  nlohmann::json root_;
  std::vector<std::string> errors_;
};

}  // namespace mx::report::testing
