# cmake -DIN=api.py -DOUT=api_py.hpp -P embed.cmake: the Python source as a C++ string.
file(READ "${IN}" source)
file(WRITE "${OUT}.tmp"
  "// Generated from python/src/api.py by python/embed.cmake: do not edit.\n"
  "#pragma once\n"
  "namespace corun::python {\n"
  "inline constexpr const char* kApiSource = R\"corun_api(${source})corun_api\";\n"
  "}\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
