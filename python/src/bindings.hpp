// The parts of the corun extension module, each bound by its own file, and
// small conversions they share.
#pragma once

#include <pybind11/pybind11.h>

#include <string_view>

namespace corun::python {

namespace py = pybind11;

void bind_runtime(py::module_& m);  // runtime.cpp: _Call, _Mailbox, _sleep, _shutdown
void bind_http(py::module_& m);     // http_binding.cpp: _Session, _Response
void bind_fetch(py::module_& m);    // fetch_binding.cpp: _fetch, _FetchProgress

// Text from the network (header values, reasons, URLs) as str: UTF-8, with
// undecodable bytes kept as lone surrogates (as aiohttp's surrogateescape).
inline py::str to_str(std::string_view s) {
  PyObject* o =
      PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "surrogateescape");
  if (!o) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

}  // namespace corun::python
