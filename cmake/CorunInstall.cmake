include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
get_property(_layers GLOBAL PROPERTY CORUN_LAYERS)
install(TARGETS ${_layers} corun EXPORT corunTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/corun DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT corunTargets NAMESPACE corun:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/corun)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/corunConfig.cmake.in
  ${PROJECT_BINARY_DIR}/corunConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/corun)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/corunConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/corunConfig.cmake ${PROJECT_BINARY_DIR}/corunConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/corun)
