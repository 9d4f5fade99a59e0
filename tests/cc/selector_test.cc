// Host-only (gcc) test of the generated kernel_selector.h against the manifest it came from:
// every manifest instantiation is found by find_kernel_index (and names its file), perturbed
// configs miss unless the perturbation is itself in the manifest, and the flags match.
#include <cstdio>
#include <cstring>

#include "marlin/kernel_config.h"
#include "marlin/kernel_selector.h"  // built with -DMARLIN_SELECTOR_CONFIGS_ONLY: no kernels
#include "marlin/scalar_type.h"
#ifdef MARLIN_TEST_FULL_TABLE
#include "tests/cc/full/manifest_configs.inc"
#else
#include "tests/cc/manifest_configs.inc"
#endif

namespace {

int failures = 0;

void check(bool ok, const char* what, int index) {
  if (!ok) {
    ++failures;
    if (failures <= 20) std::fprintf(stderr, "FAIL: %s (manifest entry %d)\n", what, index);
  }
}

bool in_manifest(const marlin::KernelConfig& cfg) {
  for (int i = 0; i < manifest_data::kCount; ++i) {
    if (manifest_data::kEntries[i].config == cfg) return true;
  }
  return false;
}

int find(const marlin::KernelConfig& cfg) {
  return marlin::find_kernel_index(marlin::generated::kKernelConfigs, cfg);
}

// A perturbed config must be found exactly when the manifest has it.
void check_perturbed(const marlin::KernelConfig& cfg, const char* what, int index) {
  const int found = find(cfg);
  check((found >= 0) == in_manifest(cfg), what, index);
  if (found >= 0) check(marlin::generated::kKernelConfigs[found] == cfg, what, index);
}

}  // namespace

int main() {
  namespace gen = marlin::generated;
  check(gen::kNumKernels == manifest_data::kCount, "kNumKernels == manifest count", -1);
  check(gen::kFp8ActivationBuilt == manifest_data::kFp8, "kFp8ActivationBuilt == flags.fp8", -1);
  check(gen::kSm75Built == manifest_data::kSm75, "kSm75Built == flags.sm75", -1);
  check(gen::kSm80Built == manifest_data::kSm80, "kSm80Built == flags.sm80", -1);

  int fp8_entries = 0;
  for (int i = 0; i < manifest_data::kCount; ++i) {
    const auto& entry = manifest_data::kEntries[i];
    const marlin::KernelConfig& cfg = entry.config;
    const int found = find(cfg);
    check(found >= 0, "manifest config found", i);
    if (found < 0) continue;
    check(gen::kKernelConfigs[found] == cfg, "found entry equals the config", i);
    check(std::strcmp(gen::kKernelFiles[found], entry.file) == 0, "kKernelFiles names the file", i);
    if (cfg.a_type == marlin::kFE4M3fn.id()) ++fp8_entries;

    marlin::KernelConfig p = cfg;
    p.threads = cfg.threads == 128 ? 64 : 128;
    check_perturbed(p, "perturbed threads", i);
    p = cfg;
    p.stages = cfg.stages + 1;
    check_perturbed(p, "perturbed stages", i);
    p = cfg;
    p.group_blocks = 16;  // never generated
    check_perturbed(p, "perturbed group_blocks", i);
    p = cfg;
    p.thread_m_blocks = cfg.thread_m_blocks + 4;
    check_perturbed(p, "perturbed thread_m_blocks", i);
    p = cfg;
    p.m_block_size_8 = !cfg.m_block_size_8;
    check_perturbed(p, "perturbed m_block_size_8", i);
    p = cfg;
    p.is_zp_float = !cfg.is_zp_float;
    check_perturbed(p, "perturbed is_zp_float", i);
    p = cfg;
    p.b_type = marlin::kS4.id();  // no scheme has kS4 weights
    check_perturbed(p, "perturbed b_type", i);
    p = cfg;
    p.s_type = marlin::kU8.id();  // no scheme has kU8 scales
    check_perturbed(p, "perturbed s_type", i);
  }
  // FP8-activation kernels exist exactly when the fp8 flag is on (and some fp8 scheme is selected).
  check(fp8_entries == 0 || gen::kFp8ActivationBuilt, "fp8 entries only when kFp8ActivationBuilt",
        -1);

  std::printf("selector_test: %d kernels checked, %d fp8-activation, fp8 flag %s, %d failures\n",
              manifest_data::kCount, fp8_entries, gen::kFp8ActivationBuilt ? "on" : "off",
              failures);
  return failures == 0 ? 0 : 1;
}
