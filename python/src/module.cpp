// The extension module `corun`: the C++ primitives (bound by runtime.cpp,
// http_binding.cpp, fetch_binding.cpp) and, on top of them, the public Python
// API written in Python (api.py, compiled into this module as a string and run
// in the module's namespace at import).
#include <pybind11/pybind11.h>

#include "api_py.hpp"
#include "bindings.hpp"
#include "runtime.hpp"

namespace py = pybind11;

PYBIND11_MODULE(corun, m) {
  m.doc() =
      "corun: asyncio-compatible HTTP fetching on a C++ event loop thread. Every coroutine "
      "function has a blocking twin (*_sync) that works with or without a running loop.";
  m.attr("__version__") = CORUN_PYTHON_VERSION;
  corun::python::bind_runtime(m);
#if CORUN_PYTHON_HAVE_HTTP
  corun::python::bind_http(m);
#endif
#if CORUN_PYTHON_HAVE_FETCH
  corun::python::bind_fetch(m);
#endif
  m.attr("_HAVE_HTTP") = static_cast<bool>(CORUN_PYTHON_HAVE_HTTP);
  m.attr("_HAVE_FETCH") = static_cast<bool>(CORUN_PYTHON_HAVE_FETCH);

  py::object builtins = py::module_::import("builtins");
  py::object code = builtins.attr("compile")(corun::python::kApiSource, "corun/api.py", "exec");
  builtins.attr("exec")(code, m.attr("__dict__"));
}
