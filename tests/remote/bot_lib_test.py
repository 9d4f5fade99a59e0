"""The pure decisions of the BuildGrid bot (tools/remote/bot_lib.py); no server needed."""

import pytest
import remote_paths  # noqa: F401  (puts tools/remote on sys.path)
from bot_lib import ACTIVE
from bot_lib import CANCELLED
from bot_lib import COMPLETED
from bot_lib import EXECROOT
from bot_lib import PENDING
from bot_lib import LeasePlan
from bot_lib import RunnerConfig
from bot_lib import nested_working_directory
from bot_lib import output_paths_for
from bot_lib import parse_ro_binds
from bot_lib import plan_leases
from bot_lib import poll_timeout
from bot_lib import runner_argv
from bot_lib import runner_status


def test_ro_binds_resolve_symlinks_and_skip_absent_paths():
    links = {"/bin": "/usr/bin", "/lib64": "/usr/lib64"}
    present = {"/usr", "/bin", "/lib64", "/opt/cuda"}
    pairs = parse_ro_binds(
        ["/usr", "/bin", "/lib64", "/sbin", "/opt/cuda:/usr/local/cuda", "/usr"],
        exists=present.__contains__,
        realpath=lambda p: links.get(p, p),
    )
    assert pairs == ("/usr:/usr", "/usr/bin:/bin", "/usr/lib64:/lib64", "/opt/cuda:/usr/local/cuda")


@pytest.mark.parametrize("entry", ["", "usr", "/a:b", "/a:/b:/c", "/a:"])
def test_ro_binds_reject_malformed_entries(entry):
    with pytest.raises(ValueError, match="--ro_bind entry"):
        parse_ro_binds([entry], exists=lambda p: True, realpath=lambda p: p)


def test_runner_argv_names_action_result_workspace_and_binds():
    config = RunnerConfig(
        buildbox_run="/x/buildbox-run",
        cas_url="grpc://127.0.0.1:50151",
        instance="",
        ro_binds=("/usr:/usr", "/usr/bin:/bin"),
    )
    argv = runner_argv(config, "/w/action.pb", "/w/result.pb", "/w/ws")
    assert argv[0] == "/x/buildbox-run"
    assert "--remote=grpc://127.0.0.1:50151" in argv
    assert "--disable-localcas" in argv
    assert "--action=/w/action.pb" in argv
    assert "--action-result=/w/result.pb" in argv
    assert "--workspace-path=/w/ws" in argv
    assert argv[-2:] == ["--ro-bind-mount=/usr:/usr", "--ro-bind-mount=/usr/bin:/bin"]
    assert not any(a.startswith("--instance") for a in argv)


def test_runner_argv_passes_a_named_instance():
    config = RunnerConfig("/b", "grpc://h:1", "main", ())
    assert "--instance=main" in runner_argv(config, "a", "r", "w")


def test_output_paths_are_the_union_of_the_v20_fields():
    assert output_paths_for(["b/x.o", "a/y.d"], ["c/dir"], []) == ["a/y.d", "b/x.o", "c/dir"]


def test_output_paths_left_alone_when_present_or_nothing_is_output():
    assert output_paths_for(["a"], [], ["a"]) is None
    assert output_paths_for([], [], []) is None


def test_working_directory_is_nested_under_the_execroot():
    assert nested_working_directory("") == EXECROOT
    assert nested_working_directory("sub/dir/") == f"{EXECROOT}/sub/dir"
    with pytest.raises(ValueError, match="plain relative path"):
        nested_working_directory("../up")


def test_idle_bot_starts_the_first_assigned_lease():
    assert plan_leases([("l1", ACTIVE), ("l2", ACTIVE)], None) == LeasePlan("l1", False)
    assert plan_leases([("l1", PENDING)], None) == LeasePlan("l1", False)


def test_busy_bot_keeps_its_lease_and_starts_nothing():
    assert plan_leases([("l1", ACTIVE), ("l2", ACTIVE)], "l1") == LeasePlan(None, False)


def test_dropped_or_cancelled_running_lease_is_cancelled():
    assert plan_leases([], "l1") == LeasePlan(None, True)
    assert plan_leases([("l1", CANCELLED)], "l1") == LeasePlan(None, True)
    # Dropped, and the server already has the next lease for this bot.
    assert plan_leases([("l2", ACTIVE)], "l1") == LeasePlan("l2", True)


def test_completed_leases_are_not_started():
    assert plan_leases([("l1", COMPLETED)], None) == LeasePlan(None, False)


def test_runner_status_ok_only_with_a_result():
    assert runner_status(0, True, "") == ("OK", "")
    code, message = runner_status(0, False, "no result\n")
    assert code == "INTERNAL" and "without writing an ActionResult" in message


def test_runner_status_failures_are_retryable_codes_with_the_stderr_tail():
    code, message = runner_status(2, False, "x" * 5000 + "CAS unreachable")
    assert code == "INTERNAL"
    assert message.endswith("CAS unreachable") and len(message) < 2100
    assert runner_status(-9, False, "")[0] == "UNAVAILABLE"


def test_poll_timeout_long_polls_idle_and_heartbeats_busy():
    assert poll_timeout(10, busy=False) == 10
    assert poll_timeout(10, busy=True) == 2.5
    assert poll_timeout(2, busy=True) == 1.0
    with pytest.raises(ValueError):
        poll_timeout(0, busy=False)
