# Sanitizer and fuzzing builds, each in its own build tree:
#   -DAGENTAUTH_SANITIZE=address  AddressSanitizer (with LeakSanitizer) and UBSan
#   -DAGENTAUTH_SANITIZE=thread   ThreadSanitizer
#   -DAGENTAUTH_FUZZ=ON           with clang: libFuzzer targets of tests/fuzz, ASan and UBSan
# `make test-asan`, `make test-tsan` and `make fuzz` use these.
#
# The flags apply to every target, ours and the generated proto code alike, so that all of our
# side is instrumented. Debian's prebuilt libraries (gRPC, abseil, protobuf, curl) are not: ASan
# still checks what our code does to their memory, but TSan cannot see their internal
# synchronisation, which is why tests/sanitizers/tsan.supp exists and why our code locks with
# std::mutex (DESIGN.md).
set(AGENTAUTH_SANITIZE "" CACHE STRING "Sanitizers to build with: empty, address or thread")
set_property(CACHE AGENTAUTH_SANITIZE PROPERTY STRINGS "" address thread)
option(AGENTAUTH_FUZZ "Build the libFuzzer targets of tests/fuzz (needs clang)" OFF)

# UBSan rides along with ASan (TSan cannot be combined with ASan). Without
# -fno-sanitize-recover UBSan only prints and the test passes anyway. GCC leaves
# float-cast-overflow out of "undefined"; clang has it in; a double from a provider cast to an
# integer is exactly what we want checked.
set(agentauth_address_flags
  -fsanitize=address,undefined,float-cast-overflow
  -fno-sanitize-recover=undefined,float-cast-overflow)

set(agentauth_sanitizer_flags "")
if(AGENTAUTH_SANITIZE STREQUAL "address")
  set(agentauth_sanitizer_flags ${agentauth_address_flags})
elseif(AGENTAUTH_SANITIZE STREQUAL "thread")
  set(agentauth_sanitizer_flags -fsanitize=thread)
elseif(NOT AGENTAUTH_SANITIZE STREQUAL "")
  message(FATAL_ERROR
    "AGENTAUTH_SANITIZE is \"${AGENTAUTH_SANITIZE}\"; expected empty, \"address\" or \"thread\"")
endif()

# Read by tests/fuzz/CMakeLists.txt: whether to build the libFuzzer executables.
set(AGENTAUTH_FUZZ_ENGINE OFF)
if(AGENTAUTH_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(WARNING "AGENTAUTH_FUZZ needs clang (CXX=clang++); only the replay tests are built")
  elseif(NOT AGENTAUTH_SANITIZE STREQUAL "")
    message(FATAL_ERROR "AGENTAUTH_FUZZ brings its own sanitizers; leave AGENTAUTH_SANITIZE empty")
  else()
    set(AGENTAUTH_FUZZ_ENGINE ON)
    # fuzzer-no-link: coverage feedback from every library the targets call into; only the
    # fuzz executables link libFuzzer itself (tests/fuzz/CMakeLists.txt).
    add_compile_options(-fsanitize=fuzzer-no-link)
    set(agentauth_sanitizer_flags ${agentauth_address_flags})
  endif()
endif()

if(agentauth_sanitizer_flags)
  message(STATUS "agentauth: building with ${agentauth_sanitizer_flags}")
  # Frame pointers make the reports' stacks complete, at the cost of one register.
  add_compile_options(${agentauth_sanitizer_flags} -fno-omit-frame-pointer)
  add_link_options(${agentauth_sanitizer_flags})
endif()
