# Runs EXAMPLE and checks that its stdout is EXPECTED, line for line, and that it exits 0.
execute_process(COMMAND ${EXAMPLE} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc
                TIMEOUT 60)
file(READ ${EXPECTED} expected)
if(NOT rc EQUAL 0 OR NOT out STREQUAL expected)
  message(FATAL_ERROR "${EXAMPLE}: exit ${rc}\n--- stdout:\n${out}--- expected:\n${expected}--- stderr:\n${err}")
endif()
