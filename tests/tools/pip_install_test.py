"""third_party/python/pip_install.py (the worker of @marlin_pip): the lock parser, the package
selection and the BUILD file it writes, on the repository's requirements.txt and on fakes."""

import os
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO_ROOT, "third_party", "python"))

import pip_install  # noqa: E402

_H1 = "a" * 64
_H2 = "b" * 64


def test_the_repository_lock_pins_and_hashes_everything():
    with open(os.path.join(REPO_ROOT, "requirements.txt")) as f:
        pins = pip_install.parse_lock(f.read())
    names = {pip_install.normalize(n) for n, _, _, _ in pins}
    # What the generator and the tests import, and what those require.
    assert {"jinja2", "markupsafe", "absl_py", "pytest", "pluggy", "hypothesis", "torch"} <= names
    for name, version, hashes, _ in pins:
        assert version and hashes, name
    assert dict((n, v) for n, v, _, _ in pins)["torch"] == "2.13.0+cpu"


def test_parse_joins_continuations_and_drops_comments():
    text = "# header\n\nJinja2==3.1.6 \\\n"
    text += f"    --hash=sha256:{_H1} \\\n    --hash=sha256:{_H2}  # why\n"
    text += f"absl-py==2.1.0 --hash=sha256:{_H1}\n"
    pins = pip_install.parse_lock(text)
    assert [(n, v, h) for n, v, h, _ in pins] == [
        ("Jinja2", "3.1.6", [_H1, _H2]),
        ("absl-py", "2.1.0", [_H1]),
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        (f"jinja2>=3 --hash=sha256:{_H1}\n", "requirements.txt:1: 'jinja2>=3' is not pinned"),
        ("\njinja2==3.1.6\n", "requirements.txt:2: jinja2==3.1.6 has no --hash=sha256:"),
        (f"jinja2==3.1.6 --hash=md5:{_H1}\n", "unexpected '--hash=md5:"),
        (
            f"jinja2==3.1.6 --hash=sha256:{_H1}\nJinja2==3.1.5 --hash=sha256:{_H2}\n",
            "pinned twice: jinja2",
        ),
    ],
)
def test_parse_rejects_what_is_not_a_hashed_lock(text, message):
    with pytest.raises(pip_install.LockError, match=None) as e:
        pip_install.parse_lock(text)
    assert message in str(e.value)


def test_select_only_and_exclude():
    pins = pip_install.parse_lock(
        f"torch==2.13.0+cpu --hash=sha256:{_H1}\nTyping_Extensions==4 --hash=sha256:{_H2}\n"
    )
    assert [p[0] for p in pip_install.select(pins, only=["torch"])] == ["torch"]
    assert [p[0] for p in pip_install.select(pins, exclude=["typing-extensions"])] == ["torch"]
    with pytest.raises(pip_install.LockError, match="not in the lock: numpy"):
        pip_install.select(pins, only=["numpy"])


def _dist(site, name, version, tops, requires=()):
    d = site / f"{name}-{version}.dist-info"
    d.mkdir(parents=True)
    meta = [f"Name: {name}", f"Version: {version}"] + [f"Requires-Dist: {r}" for r in requires]
    (d / "METADATA").write_text("\n".join(meta) + "\n\nlong description\nName: not-a-header\n")
    record = [f"{t},sha256=x,1" for t in tops] + [f"{d.name}/METADATA,,", "../../bin/tool,,"]
    (d / "RECORD").write_text("\n".join(record) + "\n")
    for t in tops:
        (site / t).parent.mkdir(parents=True, exist_ok=True)
        (site / t).write_text("")


def test_build_file_has_one_library_per_distribution_with_pinned_deps(tmp_path):
    site = tmp_path / "site-packages"
    _dist(
        site,
        "Jinja2",
        "3.1.6",
        ["jinja2/__init__.py", "jinja2/py.typed"],
        ["MarkupSafe>=2.0", "Babel>=2.7; extra == 'i18n'"],
    )
    _dist(
        site,
        "MarkupSafe",
        "3.0.3",
        ["markupsafe/__init__.py", "markupsafe.libs/libx.so", "_markupsafe_ext.so"],
    )
    _dist(
        site,
        "typing_extensions",
        "4.15.0",
        ["typing_extensions.py"],
        ["exceptiongroup; python_version < '3.11'"],
    )
    text = pip_install.build_file(
        str(site),
        "marlin_pip",
        pinned={"jinja2", "markupsafe", "typing_extensions", "torch"},
        aliases={"torch": "marlin_pip_torch"},
        python="Python 3.11.7",
    )
    assert 'name = "jinja2",' in text and 'name = "markupsafe",' in text
    jinja = text[text.index('name = "jinja2"') : text.index('name = "markupsafe"')]
    assert 'deps = [":markupsafe"],' in jinja  # Babel: an extra; not pinned anyway
    assert '"site-packages/jinja2/**/*.py"' in jinja
    assert '"site-packages/Jinja2-3.1.6.dist-info/**"' in jinja
    markupsafe = text[text.index('name = "markupsafe"') : text.index('name = "typing_extensions"')]
    # Directories beside the package (numpy.libs: its vendored shared libraries) come whole.
    assert '"site-packages/markupsafe.libs/**"' in markupsafe
    assert '"site-packages/_markupsafe_ext.so"' in markupsafe
    te = text[text.index('name = "typing_extensions"') :]
    assert '"site-packages/typing_extensions.py"' in te
    assert '"site-packages/__pycache__/typing_extensions.*.pyc"' in te
    assert "deps = []," in te.split("\n)\n")[0]  # exceptiongroup: not pinned, version-gated
    assert 'name = "torch",\n    actual = "@marlin_pip_torch//:torch",' in text
    assert "bin/" not in text and '"site-packages/..' not in text


def test_build_file_points_deps_of_a_separate_package_at_the_hub(tmp_path):
    site = tmp_path / "site-packages"
    _dist(site, "torch", "2.13.0+cpu", ["torch/__init__.py"], ["sympy>=1.13.3", "numpy"])
    text = pip_install.build_file(
        str(site), "marlin_pip_torch", pinned={"torch", "sympy"}, hub="marlin_pip"
    )
    assert 'deps = ["@marlin_pip//:sympy"],' in text  # numpy: not pinned, an optional import


def test_skipped_packages_are_empty_libraries(tmp_path):
    text = pip_install.build_file(
        str(tmp_path / "site-packages"), "marlin_pip_torch", pinned={"torch"}, skipped=["torch"]
    )
    assert 'py_library(name = "torch")' in text
    assert "MARLIN_PIP_SKIP" in text
