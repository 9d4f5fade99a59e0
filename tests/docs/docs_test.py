"""docs/generated/rules.md and docs/generated/flags.md equal a fresh render by tools/bzl_doc.py;
every doc is present.

The pages are generated from the Starlark sources (marlin/defs.bzl and the private files it
re-exports, marlin/BUILD.bazel, .bazelrc, marlin/private/flags.bzl, kernel_plan.bzl) and checked
in; this test keeps them honest, as //tests/generator:gen_checked_in_test does for the generator's
checked-in files.
"""

import ast
import os
import subprocess
import sys

import pytest

from tools import bzl_doc

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def pages():
    return bzl_doc.pages(REPO_ROOT)


@pytest.mark.parametrize("path", bzl_doc.PAGES)
def test_checked_in_page_is_current(pages, path):
    with open(os.path.join(REPO_ROOT, path), encoding="utf-8") as f:
        checked_in = f.read()
    assert checked_in == pages[path], (
        f"{path} is stale (a docstring, doc=, flag comment or .bazelrc alias changed); "
        f"regenerate every checked-in generated file from the repository root with:\n"
        f"    {bzl_doc.UPDATE_COMMAND}\n"
        f"or, without Bazel:\n"
        f"    {bzl_doc.UPDATE_COMMAND_PYTHON}"
    )


@pytest.mark.parametrize("path", bzl_doc.PAGES)
def test_page_starts_with_generated_header(pages, path):
    assert pages[path].splitlines()[0] == bzl_doc.HEADER


def test_bzl_doc_does_not_import_the_kernel_renderer():
    # bzl_doc shares only the file writer (tools.marlin_gen.files) with the kernel generator.
    code = "import sys; from tools import bzl_doc; print(sorted(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    modules = set(ast.literal_eval(result.stdout))
    assert "tools.marlin_gen.files" in modules
    assert not modules & {"tools.marlin_gen.render", "tools.marlin_gen.main", "jinja2"}


def test_render_is_deterministic(pages):
    assert bzl_doc.pages(REPO_ROOT) == pages


def test_every_public_symbol_is_documented(pages):
    _, symbols = bzl_doc.public_symbols(REPO_ROOT)
    names = {s.name: s.kind for s in symbols}
    assert names == {
        "cuda_library": "rule",
        "marlin_codegen": "rule",
        "marlin_kernel_library": "macro",
        "MarlinConfigInfo": "provider",
        "family_gencode": "function",
    }
    for name in names:
        assert f"\n## {name}\n" in pages[bzl_doc.RULES_PAGE]


def test_no_missing_docs():
    paths = bzl_doc.bzl_files(REPO_ROOT)
    assert bzl_doc.DEFS_BZL in paths and bzl_doc.FLAGS_BZL in paths
    assert bzl_doc.missing_docs(REPO_ROOT, paths) == []


def test_flags_page_lists_every_flag_with_aliases_and_values():
    settings = {f.name: f for f in bzl_doc.build_settings(REPO_ROOT)}
    assert sorted(settings) == ["cuda_archs", "device_actions", "schemes"]
    assert settings["cuda_archs"].aliases == ("cuda_archs",)
    assert settings["schemes"].aliases == ("marlin_schemes",)
    assert settings["device_actions"].aliases == ("cuda_device_actions",)
    assert settings["device_actions"].rule == "string_flag"
    values = bzl_doc.flag_values(REPO_ROOT)
    assert values["cuda_archs"][0][:2] == ["sm_75", "sm_80"]
    assert values["schemes"][0][0] == "all"
    assert "gptq_int4" in values["schemes"][0]
    assert values["device_actions"][0] == ["per_arch", "per_file"]


def test_flags_page_states_that_the_last_value_wins(pages):
    # A repeated --cuda_archs keeps only its last value (Bazel's rule); users must be told.
    page = pages[bzl_doc.FLAGS_PAGE]
    for flag in ("cuda_archs", "schemes"):
        section = page.split(f"## `//marlin:{flag}`", 1)[1].split("\n## ", 1)[0]
        assert "Given twice, the last value wins" in section, flag
    assert "--cuda_archs=sm_80 --cuda_archs=sm_89" in page
    assert "`all,gptq_int4` is an error" in page


def test_parse_docstring_google_style():
    doc = bzl_doc.parse_docstring(
        """Summary.

        More text.

        Args:
          name: the name.
          deps: a list
            continued: still deps.
          **kwargs: passed on.

        Returns:
          A list.
        """
    )
    assert doc.description == "Summary.\n\nMore text."
    assert doc.args == (
        ("name", "the name."),
        ("deps", "a list continued: still deps."),
        ("**kwargs", "passed on."),
    )
    assert doc.returns == "A list."


def test_missing_attribute_doc_is_reported(tmp_path):
    (tmp_path / "x.bzl").write_text(
        '"""Module."""\n\n'
        "def _impl(ctx):\n    pass\n\n"
        'x = rule(implementation = _impl, doc = "X.", attrs = {"a": attr.string()})\n'
        "def public(arg):\n"
        '    """Does it."""\n'
    )
    assert bzl_doc.missing_docs(str(tmp_path), ["x.bzl"]) == [
        "x.bzl: public: parameter arg is not in Args:",
        "x.bzl: x: attribute a has no doc",
    ]


@pytest.mark.parametrize(
    ("label", "package", "path"),
    [
        ("//marlin/private:flags.bzl", "marlin", "marlin/private/flags.bzl"),
        (":flags.bzl", "marlin/private", "marlin/private/flags.bzl"),
    ],
)
def test_label_to_path(label, package, path):
    assert bzl_doc.label_to_path(label, package) == path


def test_external_load_is_rejected():
    with pytest.raises(ValueError, match="only labels of this repository"):
        bzl_doc.label_to_path("@bazel_skylib//lib:paths.bzl", "marlin")


@pytest.mark.parametrize("page", bzl_doc.PAGES)
def test_pages_are_marked_as_generated(page):
    # docs/rules.md and docs/flags.md sat beside the hand-written docs: they live in
    # docs/generated/ and open with the generator's banner.
    assert page.split("/")[:-1] == ["docs", "generated"], page
    with open(os.path.join(REPO_ROOT, page), encoding="utf-8") as f:
        first = f.readline()
    assert "Generated by tools/bzl_doc.py; do not edit." in first, first
