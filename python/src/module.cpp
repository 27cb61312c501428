// The extension module `corun._corun`: the C++ primitives the package
// python/corun/ is written over (bound by runtime.cpp, http_binding.cpp,
// fetch_binding.cpp). Private: users import `corun`.
#include <pybind11/pybind11.h>
#include <uv.h>

#include "bindings.hpp"
#include "runtime.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_corun, m) {
  m.doc() = "corun's C++ half: the loop thread, calls into it, the HTTP session and fetch.";
  // libuv's allocator is one per process, shared with uvloop when uvloop links
  // the same libuv (Debian's does), and uvloop sets it to Python's raw
  // allocator when it creates its first loop. Memory corun's loop allocated
  // before that would then be freed with PyMem_RawFree, which Python's debug
  // allocator (-X dev, PYTHONMALLOC=debug) rejects as a fatal error. So corun
  // sets the same allocator first (it is thread-safe and needs no GIL):
  // whichever comes first, libuv allocates and frees with one allocator.
  uv_replace_allocator(PyMem_RawMalloc, PyMem_RawRealloc, PyMem_RawCalloc, PyMem_RawFree);
  m.attr("__version__") = CORUN_PYTHON_VERSION;
  corun::python::bind_runtime(m);
  corun::python::bind_http(m);
  corun::python::bind_fetch(m);
}
