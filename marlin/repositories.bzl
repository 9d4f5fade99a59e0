"""Repository setup for rules_marlin: `rules_marlin_dependencies()`.

Call it from WORKSPACE, after `local_repository`/`http_archive` for rules_marlin itself:

    load("@rules_marlin//marlin:repositories.bzl", "rules_marlin_dependencies")

    rules_marlin_dependencies()

Everything is offline (Bazel 4.2.3 from Debian, no network): each repository is defined with
`maybe()`, so a definition earlier in the WORKSPACE wins, and before Bazel's WORKSPACE suffix,
whose `http_archive`s would otherwise try to download.
"""

load("@bazel_tools//tools/build_defs/repo:utils.bzl", "maybe")
load("//third_party:offline_repository.bzl", "offline_repository")
load("//third_party/cuda:hermetic_cuda.bzl", "cuda_wheels")
load("//third_party/cuda:local_cuda.bzl", "local_cuda")
load("//third_party/python:local_python.bzl", "local_python")
load("//third_party/python:pip_repository.bzl", "marlin_pip_repositories")

# Debian's packages (tools/setup.sh installs them): bazel-skylib, bazel-rules-java.
_DEBIAN_SKYLIB = "/usr/share/bazel/tools/skylib"
_DEBIAN_RULES_JAVA = "/usr/share/bazel/rules/java"

# WORKSPACE macro: no `name` (it defines several repositories and registers a toolchain).
# buildifier: disable=unnamed-macro
def rules_marlin_dependencies(register_python_toolchain = True):
    """Defines the repositories rules_marlin needs, all without downloads.

    - `@rules_cc`: shim forwarding to the native cc rules (//third_party/rules_cc);
    - `@remote_coverage_tools`: stub needed by every `*_test` (//third_party/remote_coverage_tools);
    - `@rules_java`, `@bazel_skylib`: Debian's bazel-rules-java and bazel-skylib (1.0.3);
    - `@local_python`: the local python3, registered as the Python toolchain;
    - `@marlin_pip`: the pinned Python packages of `requirements.txt` (a hashed lock), installed
      with pip; torch and numpy in `@marlin_pip_torch` and `@marlin_pip_numpy`, fetched only by
      the tests that use them;
    - `@local_cuda`: the local CUDA toolkit (nvcc, headers, cudart_static), or with
      `--config=hermetic_cuda` the one of `@cuda_wheels`: pinned NVIDIA wheels fetched with pip
      and checked by sha256 (//third_party/cuda:wheels.bzl), fetched only in that case.

    Args:
      register_python_toolchain: register `@local_python//:py_toolchain` (py_binary stubs start
        with the interpreter's absolute path, which `--incompatible_strict_action_env` needs).
    """
    maybe(
        offline_repository,
        name = "rules_cc",
        files = {
            Label("//third_party/rules_cc:root.BUILD"): "BUILD.bazel",
            Label("//third_party/rules_cc:cc.BUILD"): "cc/BUILD.bazel",
            Label("//third_party/rules_cc:defs.bzl"): "cc/defs.bzl",
        },
    )
    maybe(
        offline_repository,
        name = "remote_coverage_tools",
        files = {
            Label("//third_party/remote_coverage_tools:coverage.BUILD"): "BUILD.bazel",
            Label("//third_party/remote_coverage_tools:coverage_stub.sh"): "coverage_stub.sh",
        },
    )
    maybe(
        native.local_repository,
        name = "rules_java",
        path = _DEBIAN_RULES_JAVA,
    )
    maybe(
        native.local_repository,
        name = "bazel_skylib",
        path = _DEBIAN_SKYLIB,
    )
    maybe(
        local_python,
        name = "local_python",
    )
    marlin_pip_repositories(
        name = "marlin_pip",
        requirements = Label("//:requirements.txt"),
        separate = [
            "numpy",
            "torch",
        ],
    )
    maybe(
        cuda_wheels,
        name = "cuda_wheels",
    )
    maybe(
        local_cuda,
        name = "local_cuda",
    )
    if register_python_toolchain:
        native.register_toolchains("@local_python//:py_toolchain")
