# Installs BUILD_DIR into WORK/prefix, then configures, builds and runs each example against the
# installed package and checks its output against EXPECTED_DIR/<example>.expected.
include(${CMAKE_CURRENT_LIST_DIR}/package_test.cmake)

file(REMOVE_RECURSE ${WORK})
step("installing" COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK}/prefix)
foreach(example IN ITEMS minimal_platform custom_interconnect)
  configure_and_build(${SOURCE_DIR}/examples/${example} ${WORK}/${example}
                      -DCMAKE_PREFIX_PATH=${WORK}/prefix)
  step("running ${example}" COMMAND ${WORK}/${example}/${example})
  expect_lines("${step_output}" ${EXPECTED_DIR}/${example}.expected)
  message(STATUS "${example}: ok")
endforeach()
