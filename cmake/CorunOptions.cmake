# Warning and sanitizer flags shared by every corun target (internal interface target).
add_library(corun_build_flags INTERFACE)
target_compile_options(corun_build_flags INTERFACE -Wall -Wextra -Wpedantic -Wnon-virtual-dtor)
if(CORUN_WERROR)
  target_compile_options(corun_build_flags INTERFACE -Werror)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  # g++ 12 at -O3 reports impossible memcpy overlaps inside std::string (GCC bug 105329).
  target_compile_options(corun_build_flags INTERFACE -Wno-restrict)
endif()
if(CORUN_SANITIZE)
  add_compile_options(-fsanitize=${CORUN_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${CORUN_SANITIZE})
endif()

# corun_add_layer(NAME SOURCES... [DEPS targets...]): one static library per layer,
# corun::NAME, registered with the umbrella target corun::corun and the install set.
function(corun_add_layer name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(corun_${name} STATIC ${L_SOURCES})
  add_library(corun::${name} ALIAS corun_${name})
  set_target_properties(corun_${name} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME corun_${name})
  target_include_directories(corun_${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(corun_${name} PUBLIC cxx_std_20)
  target_link_libraries(corun_${name} PUBLIC ${L_DEPS} PRIVATE ${L_PRIVATE_DEPS} $<BUILD_INTERFACE:corun_build_flags>)
  set_property(GLOBAL APPEND PROPERTY CORUN_LAYERS corun_${name})
endfunction()
