"""`marlin_config`: parses and validates the rules_marlin flags once (`//marlin:config`)."""

load("@bazel_skylib//rules:common_settings.bzl", "BuildSettingInfo")
load("//marlin/private:flags.bzl", "parse_cuda_archs", "parse_schemes")
load("//marlin/private:providers.bzl", "MarlinConfigInfo")
load("//marlin/private/generated:kernel_plan.bzl", "MARLIN_SCHEMES")

def _marlin_config_impl(ctx):
    archs = parse_cuda_archs(ctx.attr._cuda_archs[BuildSettingInfo].value)
    if archs.error:
        fail(archs.error)
    schemes = parse_schemes(ctx.attr._schemes[BuildSettingInfo].value, MARLIN_SCHEMES)
    if schemes.error:
        fail(schemes.error)
    return [MarlinConfigInfo(
        archs = archs.archs,
        schemes = schemes.schemes,
        device_actions = ctx.attr._device_actions[BuildSettingInfo].value,
    )]

marlin_config = rule(
    implementation = _marlin_config_impl,
    doc = """Reads `--cuda_archs`, `--marlin_schemes` and `--cuda_device_actions`, validates them and provides `MarlinConfigInfo`.

Every rule that depends on the flags depends on this one target (`//marlin:config`), so a bad
value fails the build once, with a message naming it and listing the valid values.
""",
    attrs = {
        "_cuda_archs": attr.label(
            default = Label("//marlin:cuda_archs"),
            doc = "The `string_list_flag` of archs (`--cuda_archs`).",
        ),
        "_device_actions": attr.label(
            default = Label("//marlin:device_actions"),
            doc = "The `string_flag` of how device code is compiled (`--cuda_device_actions`).",
        ),
        "_schemes": attr.label(
            default = Label("//marlin:schemes"),
            doc = "The `string_list_flag` of schemes (`--marlin_schemes`).",
        ),
    },
    provides = [MarlinConfigInfo],
)
