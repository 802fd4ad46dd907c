#pragma once
// UTF-8 and Python-string helpers for the chat-template engine. Python strings index by code
// point, so lengths, subscripts and slices go through these; invalid UTF-8 bytes count as one
// code point each (U+FFFD is never substituted: output bytes equal input bytes).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace infera::chat {

void append_utf8(std::string& out, uint32_t cp);
// Decodes the code point at s[i] and advances i (an invalid byte decodes as itself, 1 byte).
uint32_t decode_utf8(std::string_view s, size_t& i);
// Byte offset of every code point start, plus s.size() at the end.
std::vector<size_t> code_point_offsets(std::string_view s);
size_t code_point_count(std::string_view s);

// Python's str.isspace for one code point.
bool is_python_space(uint32_t cp);

// str.strip / lstrip / rstrip: with chars empty-and-absent, Unicode whitespace; else the given
// code points.
std::string python_strip(std::string_view s, bool left, bool right, const std::string* chars);
// str.split(sep, maxsplit): sep == nullptr splits on runs of whitespace.
std::vector<std::string> python_split(std::string_view s, const std::string* sep, int64_t maxsplit);
// str.replace(old, new, count); count < 0 replaces all.
std::string python_replace(std::string_view s, std::string_view from, std::string_view to,
                           int64_t count);

// Case mapping is ASCII-only (other code points pass through unchanged).
std::string ascii_upper(std::string_view s);
std::string ascii_lower(std::string_view s);
std::string python_capitalize(std::string_view s);
std::string python_title(std::string_view s);

}  // namespace infera::chat
