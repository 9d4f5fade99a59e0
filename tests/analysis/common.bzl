"""Shared helpers for the analysis tests: find actions by mnemonic, assert on their argv."""

load("@bazel_skylib//lib:unittest.bzl", "analysistest", "asserts")

# Starlark flags, as analysistest config_settings keys.
CUDA_ARCHS = str(Label("//marlin:cuda_archs"))
SCHEMES = str(Label("//marlin:schemes"))
DEVICE_ACTIONS = str(Label("//marlin:device_actions"))

def flags(archs = None, schemes = None, device_actions = None):
    """config_settings for `--cuda_archs` / `--marlin_schemes` / `--cuda_device_actions`.

    Args:
      archs: list of arch strings, or None to leave the flag alone.
      schemes: list of scheme names, or None to leave the flag alone.
      device_actions: `per_arch` / `per_file`, or None to leave the flag alone.

    Returns:
      A dict for `analysistest.make(config_settings = ...)`.
    """
    settings = {}
    if archs != None:
        settings[CUDA_ARCHS] = archs
    if schemes != None:
        settings[SCHEMES] = schemes
    if device_actions != None:
        settings[DEVICE_ACTIONS] = device_actions
    return settings

def find_actions(env, mnemonic):
    """All actions of the target under test with this mnemonic."""
    return [a for a in analysistest.target_actions(env) if a.mnemonic == mnemonic]

def find_action(env, mnemonic):
    """The one action with this mnemonic (fails the test, returning None, if not exactly one)."""
    actions = find_actions(env, mnemonic)
    asserts.equals(env, 1, len(actions), "expected exactly one {} action, got {}".format(mnemonic, len(actions)))
    return actions[0] if len(actions) == 1 else None

def option_value(action, name):
    """The value of `--name=value` in the action's argv.

    Args:
      action: an action of the target under test.
      name: the flag, with its dashes (`--output`).

    Returns:
      The value, or None when the flag is absent.
    """
    for a in action.argv:
        if a.startswith(name + "="):
            return a[len(name) + 1:]
    return None

def gencodes(action):
    """The `-gencode=` values of an nvcc action, in order."""
    return [a[len("-gencode="):] for a in action.argv if a.startswith("-gencode=")]

def assert_argv_contains(env, action, flags_):
    """Every flag in `flags_` is in the action's argv."""
    for flag in flags_:
        asserts.true(env, flag in action.argv, "expected '{}' in argv: {}".format(flag, action.argv))

def assert_argv_not_contains(env, action, flags_):
    """No flag in `flags_` is in the action's argv."""
    for flag in flags_:
        asserts.false(env, flag in action.argv, "unexpected '{}' in argv: {}".format(flag, action.argv))

def assert_argv_contains_prefix(env, action, prefix):
    """Asserts that some argv entry starts with `prefix`.

    Args:
      env: the test environment.
      action: the action.
      prefix: the expected prefix.

    Returns:
      The first matching argument, or None.
    """
    for arg in action.argv:
        if arg.startswith(prefix):
            return arg
    asserts.true(env, False, "expected an argument starting with '{}' in argv: {}".format(prefix, action.argv))
    return None
