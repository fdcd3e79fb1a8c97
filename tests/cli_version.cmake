# `loom --version` prints the version and exits 0; an unknown option exits 2.
execute_process(COMMAND ${LOOM} --version OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES "^loom ${EXPECT} \\(libloom ${EXPECT}\\)")
  message(FATAL_ERROR "loom --version: rc=${rc} out='${out}'")
endif()
execute_process(COMMAND ${LOOM} --bogus ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT err MATCHES "unknown command or option '--bogus'")
  message(FATAL_ERROR "loom --bogus: rc=${rc} err='${err}'")
endif()
