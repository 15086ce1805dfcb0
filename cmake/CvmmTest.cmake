# SPDX-License-Identifier: Apache-2.0
# cvmm_add_test(NAME name LABEL unit|kvm|boot SOURCES ... [LIBS ...])
# One GoogleTest binary; each TEST becomes a CTest test with the given label. A test that calls
# GTEST_SKIP() is reported by CTest as skipped, not passed.
include(GoogleTest)
find_package(GTest REQUIRED)

function(cvmm_add_test)
  cmake_parse_arguments(T "" "NAME;LABEL" "SOURCES;LIBS" ${ARGN})
  if(NOT T_LABEL MATCHES "^(unit|kvm|boot)$")
    message(FATAL_ERROR "cvmm_add_test(${T_NAME}): LABEL must be unit, kvm or boot")
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${T_NAME}
    DISCOVERY_MODE PRE_TEST
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS ${T_LABEL} SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
endfunction()
