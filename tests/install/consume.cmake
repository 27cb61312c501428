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
