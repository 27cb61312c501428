// A Python str from the UTF-8 corun's decoders write (text()): built straight into
// the str's canonical width, and keeping the UTF-8 as CPython's own cache.
#pragma once

#include <pybind11/pybind11.h>

#include <string_view>

namespace corun::python {

namespace py = pybind11;

// A str of the UTF-8 `utf8` (what corun's decoders write) that keeps those bytes
// as its cached UTF-8 form, the one PyUnicode_AsUTF8() fills: encoding it back to
// UTF-8 (str.encode(), a write() to a UTF-8 or UTF-8-with-BOM text file) is then a
// copy instead of a pass over every character. The cache costs one copy of the
// bytes while the str lives, as after any PyUnicode_AsUTF8(). Where the
// interpreter's string layout is not one checked here (see utf8_str.cpp), a plain
// str. Text of the Latin-1 range or the BMP (the usual page) is converted here,
// into a str of its final width sized from one counting pass; anything else
// (ASCII, characters beyond U+FFFF) and invalid UTF-8 go through CPython's decoder,
// which raises UnicodeDecodeError for the latter. GIL held.
py::str str_keeping_utf8(std::string_view utf8);

}  // namespace corun::python
