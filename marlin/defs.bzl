"""Public API of rules_marlin: load everything from here.

    load("@rules_marlin//marlin:defs.bzl", "cuda_library", "marlin_kernel_library")

Flags (aliases in .bazelrc): `--cuda_archs=sm_80,sm_89,compute_90` (`//marlin:cuda_archs`) and
`--marlin_schemes=gptq_int4,fp8` (`//marlin:schemes`); see marlin/BUILD.bazel.
"""

load("//marlin/private:arch_rules.bzl", _family_gencode = "family_gencode")
load("//marlin/private:providers.bzl", _MarlinConfigInfo = "MarlinConfigInfo")
load("//marlin/private/macros:marlin_kernel_library.bzl", _marlin_kernel_library = "marlin_kernel_library")
load("//marlin/private/rules:cuda_library.bzl", _cuda_library = "cuda_library")
load("//marlin/private/rules:marlin_codegen.bzl", _marlin_codegen = "marlin_codegen")

# rules

cuda_library = _cuda_library
# See @rules_marlin//marlin/private/rules:cuda_library.bzl for the implementation.

marlin_codegen = _marlin_codegen
# See @rules_marlin//marlin/private/rules:marlin_codegen.bzl for the implementation.

# macros

marlin_kernel_library = _marlin_kernel_library
# See @rules_marlin//marlin/private/macros:marlin_kernel_library.bzl for the implementation.

# providers

MarlinConfigInfo = _MarlinConfigInfo
# See @rules_marlin//marlin/private:providers.bzl for the implementation.

# functions

family_gencode = _family_gencode
# See @rules_marlin//marlin/private:arch_rules.bzl for the implementation.
