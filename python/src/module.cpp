// The extension module `corun._corun`: the C++ primitives the package
// python/corun/ is written over (bound by runtime.cpp, http_binding.cpp,
// fetch_binding.cpp). Private: users import `corun`.
#include <pybind11/pybind11.h>

#include "bindings.hpp"
#include "runtime.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_corun, m) {
  m.doc() = "corun's C++ half: the loop thread, calls into it, the HTTP session and fetch.";
  m.attr("__version__") = CORUN_PYTHON_VERSION;
  corun::python::bind_runtime(m);
  corun::python::bind_http(m);
  corun::python::bind_fetch(m);
}
