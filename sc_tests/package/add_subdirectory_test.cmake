# Configures OUTER_DIR, a project that takes SOURCE_DIR in with add_subdirectory(), builds its
# program (only what it needs of iommu_sim) and runs it.
include(${CMAKE_CURRENT_LIST_DIR}/package_test.cmake)

file(REMOVE_RECURSE ${WORK})
configure_and_build(${OUTER_DIR} ${WORK} -DIOMMU_SIM_SOURCE=${SOURCE_DIR} TARGET=outer)
step("running the outer program" COMMAND ${WORK}/outer)
if(NOT step_output MATCHES "outer: translation on, 0x12345678 read back through the IOMMU")
  message(FATAL_ERROR "unexpected output:\n${step_output}")
endif()
