# Installs the built tree into a scratch prefix, then builds and runs the consumer
# project twice: through find_package(corun) and through add_subdirectory.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
endfunction()
run(${CMAKE_COMMAND} --install ${CORUN_BINARY_DIR} --prefix ${WORK_DIR}/prefix)

# The Python package, when the tree built it: importable from the prefix alone
# (run from a scratch folder, with nothing but the install on the path).
file(GLOB _py_init ${WORK_DIR}/prefix/lib/python3*/dist-packages/corun/__init__.py)
if(_py_init)
  get_filename_component(_py_package ${_py_init} DIRECTORY)
  get_filename_component(_py_site ${_py_package} DIRECTORY)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env PYTHONPATH=${_py_site} PYTHONDONTWRITEBYTECODE=1
      /usr/bin/python3 -c "
import os, corun, corun._corun as ext
assert os.path.dirname(corun.__file__) == '${_py_package}', corun.__file__
assert os.path.dirname(ext.__file__) == '${_py_package}', ext.__file__
async def answer():
    return await corun.sleep(0, 42)
print(corun.run(answer()), corun.__version__ == ext.__version__, len(corun.__all__) > 20)
# Each module's bytecode is installed and current (its header records the
# source's time and size), so no process compiles the package again.
import glob, importlib.util
for src in glob.glob(os.path.join(os.path.dirname(corun.__file__), '*.py')):
    with open(importlib.util.cache_from_source(src), 'rb') as f:
        header = f.read(16)
    st = os.stat(src)
    assert int.from_bytes(header[4:8], 'little') == 0, src  # timestamp-checked
    assert int.from_bytes(header[8:12], 'little') == int(st.st_mtime) & 0xFFFFFFFF, src
    assert int.from_bytes(header[12:16], 'little') == st.st_size & 0xFFFFFFFF, src
"
    WORKING_DIRECTORY ${WORK_DIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out STREQUAL "42 True True\n")
    message(FATAL_ERROR "the installed Python package: '${out}' ${err} (exit ${rc})")
  endif()
  message(STATUS "python package: ok")
endif()
foreach(mode find_package add_subdirectory)
  run(${CMAKE_COMMAND} -S ${CORUN_SOURCE_DIR}/tests/install/consumer -B ${WORK_DIR}/${mode} -G Ninja
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DMODE=${mode}
      -DCORUN_SOURCE_DIR=${CORUN_SOURCE_DIR})
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/${mode} -j2)
  execute_process(COMMAND ${WORK_DIR}/${mode}/consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
  if(NOT rc EQUAL 0 OR NOT out STREQUAL "285\n")
    message(FATAL_ERROR "consumer (${mode}) printed '${out}' and exited ${rc}")
  endif()
  message(STATUS "${mode}: ok")
endforeach()
