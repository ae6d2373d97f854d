# ctest entry consumer_package: install mode-cpp from the build tree into a temporary
# prefix, build tests/consumer against it with find_package(modecpp), run the result.
#
# Expects (-D): MODE_BUILD_DIR, CONSUMER_SOURCE_DIR, WORK_DIR, CXX_COMPILER, and
# optionally BUILD_TYPE, SANITIZER_FLAGS (the library's, which a consumer must use too)
# and CAF_ROOT (the consumer must then find that same CAF, e.g. the TSan build).
cmake_minimum_required(VERSION 3.25)

foreach(var MODE_BUILD_DIR CONSUMER_SOURCE_DIR WORK_DIR CXX_COMPILER)
  if(NOT ${var})
    message(FATAL_ERROR "run_consumer_test.cmake: -D${var}=... is required")
  endif()
endforeach()

function(step what)
  message(STATUS "consumer_package: ${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer_package: ${what} failed (${rc}):\n${out}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")

set(config_args)
if(BUILD_TYPE)
  set(config_args --config "${BUILD_TYPE}")
endif()
step("install into ${prefix}"
  "${CMAKE_COMMAND}" --install "${MODE_BUILD_DIR}" --prefix "${prefix}" ${config_args})

# The installed package must name its dependencies, never bake in where this build found
# them: a consumer finds CAF (Debian's or a CAF_ROOT of its own) when it configures.
file(GLOB_RECURSE package_files "${prefix}/*.cmake")
foreach(f ${package_files})
  file(READ "${f}" text)
  foreach(path "${MODE_BUILD_DIR}" "${CAF_ROOT}")
    if(path)
      string(FIND "${text}" "${path}" at)
      if(at GREATER -1)
        message(FATAL_ERROR "consumer_package: ${f} contains the build-time path ${path}")
      endif()
    endif()
  endforeach()
endforeach()

set(configure_args
  -S "${CONSUMER_SOURCE_DIR}" -B "${build}"
  "-DCMAKE_PREFIX_PATH=${prefix}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
if(BUILD_TYPE)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
endif()
if(SANITIZER_FLAGS)
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS=${SANITIZER_FLAGS}"
       "-DCMAKE_EXE_LINKER_FLAGS=${SANITIZER_FLAGS}")
endif()
if(CAF_ROOT)
  list(APPEND configure_args "-DCAF_ROOT=${CAF_ROOT}")
endif()
step("configure" "${CMAKE_COMMAND}" ${configure_args})
step("build" "${CMAKE_COMMAND}" --build "${build}" ${config_args})
step("run" "${build}/consumer")
message(STATUS "consumer_package: the program said: ${step_output}")
