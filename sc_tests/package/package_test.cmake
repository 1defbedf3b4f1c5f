# Helpers of the package tests (run with cmake -P).
cmake_minimum_required(VERSION 3.22)

# step(<what> COMMAND ...): runs the command, stops the test with its output if it fails.
function(step what)
  execute_process(${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${what} failed (${result}):\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# configure_and_build(<source> <binary> [target]): a Release build with this build's generator,
# compiler and compiler launcher, on two cores.
function(configure_and_build source binary)
  set(args -S ${source} -B ${binary} -G "${GENERATOR}" -DCMAKE_BUILD_TYPE=Release
           -DCMAKE_CXX_COMPILER=${COMPILER} ${ARGN})
  if(CMAKE_CXX_COMPILER_LAUNCHER)
    list(APPEND args -DCMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER})
  endif()
  list(FILTER args EXCLUDE REGEX "^TARGET=")
  step("configuring ${source}" COMMAND ${CMAKE_COMMAND} ${args})
  set(build_args --build ${binary} -j 2)
  foreach(a IN LISTS ARGN)
    if(a MATCHES "^TARGET=(.*)")
      list(APPEND build_args --target ${CMAKE_MATCH_1})
    endif()
  endforeach()
  step("building ${source}" COMMAND ${CMAKE_COMMAND} ${build_args})
endfunction()

# expect_lines(<output> <file>): every line of <file> must be a line of <output>.
function(expect_lines output file)
  file(STRINGS ${file} wanted)
  foreach(line IN LISTS wanted)
    string(FIND "\n${output}" "\n${line}\n" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "missing line: '${line}'\nthe output was:\n${output}")
    endif()
  endforeach()
endfunction()
