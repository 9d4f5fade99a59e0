"""tools/doctor.py against a fake Bazel disk cache: what counts as corrupt, and --fix."""

import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))

import doctor  # noqa: E402


def put(root, kind, name, data=b""):
    d = root / kind / name[:2]
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)
    return str(d / name)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def make_cache(tmp_path):
    good = b"object bytes"
    paths = {
        "ac_ok": put(tmp_path, "ac", "a" * 64, b"\n\x05proto"),
        "ac_empty": put(tmp_path, "ac", "b" * 64),
        "cas_ok": put(tmp_path, "cas", sha(good), good),
        "cas_empty_digest": put(tmp_path, "cas", doctor.EMPTY_SHA256),
        "cas_truncated": put(tmp_path, "cas", sha(b"something")),
        "cas_wrong": put(tmp_path, "cas", sha(b"other"), b"not other"),
    }
    return paths


def test_finds_empty_action_results_and_truncated_blobs(tmp_path):
    paths = make_cache(tmp_path)
    found = dict(doctor.find_corrupt(str(tmp_path)))
    assert found == {
        paths["ac_empty"]: "empty action result",
        paths["cas_truncated"]: "empty file under a non-empty digest",
    }


def test_verify_cas_also_hashes_every_blob(tmp_path):
    paths = make_cache(tmp_path)
    found = dict(doctor.find_corrupt(str(tmp_path), verify_cas=True))
    assert found[paths["cas_wrong"]] == "content does not match its sha256 name"
    assert paths["cas_ok"] not in found and paths["cas_empty_digest"] not in found


def test_check_exits_1_and_fix_removes_only_the_corrupt(tmp_path, capsys):
    paths = make_cache(tmp_path)
    assert doctor.main([f"--disk_cache={tmp_path}"]) == 1
    assert "run again with --fix" in capsys.readouterr().out
    assert os.path.exists(paths["ac_empty"])  # a check changes nothing
    assert doctor.main([f"--disk_cache={tmp_path}", "--fix"]) == 0
    assert not os.path.exists(paths["ac_empty"]) and not os.path.exists(paths["cas_truncated"])
    assert all(
        os.path.exists(paths[k]) for k in ("ac_ok", "cas_ok", "cas_empty_digest", "cas_wrong")
    )
    assert doctor.main([f"--disk_cache={tmp_path}"]) == 0


def test_missing_cache_is_not_an_error(tmp_path, capsys):
    assert doctor.main([f"--disk_cache={tmp_path / 'none'}"]) == 0
    assert "nothing to check" in capsys.readouterr().out
