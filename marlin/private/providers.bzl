"""Providers of rules_marlin: `MarlinConfigInfo`, the validated flags (see marlin_config.bzl)."""

MarlinConfigInfo = provider(
    doc = "The validated rules_marlin flags (`//marlin:config`), parsed once for every rule.",
    fields = {
        "archs": "A list of `--cuda_archs` values, deduplicated, in flags.bzl's canonical order.",
        "schemes": "A list of selected scheme names, in table order (all of them for `all`).",
        "device_actions": "`per_arch` or `per_file`: how cuda_library splits a file's nvcc stages into actions.",
    },
)
