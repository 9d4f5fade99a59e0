// A minimal test harness for the host-only C++ tests (no gtest offline): EXPECT_* record
// failures and keep going; main() returns the failure count as the exit status.
#pragma once

#include <cstdio>
#include <string>

#include "marlin/status.h"

namespace marlin_test {

inline int& failures() {
  static int count = 0;
  return count;
}

inline const char* code_name(marlin::Code code) {
  switch (code) {
    case marlin::Code::kOk:
      return "kOk";
    case marlin::Code::kInvalidArgument:
      return "kInvalidArgument";
    case marlin::Code::kNoKernel:
      return "kNoKernel";
    case marlin::Code::kCuda:
      return "kCuda";
    case marlin::Code::kUnsupportedDevice:
      return "kUnsupportedDevice";
  }
  return "?";
}

// Checks code and that the message contains `needle`; prints the message so the test log
// doubles as the catalogue of error texts.
inline void expect_status(const marlin::Status& status, marlin::Code code,
                          const std::string& needle, const char* file, int line,
                          const char* label) {
  const bool ok = status.code == code && status.message.find(needle) != std::string::npos;
  if (!ok) {
    ++failures();
    std::printf("FAIL %s:%d [%s]: got %s \"%s\", want %s containing \"%s\"\n", file, line, label,
                code_name(status.code), status.message.c_str(), code_name(code), needle.c_str());
  } else if (!status.ok()) {
    std::printf("  ok [%s] %s: %s\n", label, code_name(status.code), status.message.c_str());
  }
}

}  // namespace marlin_test

#define EXPECT_TRUE(cond)                                                      \
  do {                                                                         \
    if (!(cond)) {                                                             \
      ++marlin_test::failures();                                               \
      std::printf("FAIL %s:%d: EXPECT_TRUE(%s)\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

#define EXPECT_EQ(a, b)                                                                        \
  do {                                                                                         \
    const auto a_value = (a);                                                                  \
    const auto b_value = (b);                                                                  \
    if (!(a_value == b_value)) {                                                               \
      ++marlin_test::failures();                                                               \
      std::printf("FAIL %s:%d: EXPECT_EQ(%s, %s): %lld vs %lld\n", __FILE__, __LINE__, #a, #b, \
                  static_cast<long long>(a_value), static_cast<long long>(b_value));           \
    }                                                                                          \
  } while (0)

#define EXPECT_STATUS(status, code, needle, label) \
  marlin_test::expect_status((status), (code), (needle), __FILE__, __LINE__, (label))

#define TEST_MAIN_RESULT()                                                           \
  (std::printf("%s: %d failure(s)\n", marlin_test::failures() ? "FAILED" : "PASSED", \
               marlin_test::failures()),                                             \
   marlin_test::failures() == 0 ? 0 : 1)
