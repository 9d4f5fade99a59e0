"""A minimal BuildGrid bot: takes leases over the Remote Workers (Bots) API, runs buildbox-run.

    .remote/venv/bin/python tools/remote/bot.py --server=127.0.0.1:50151 --bot_id=bot-1 \
        --buildbox_run=.remote/bin/buildbox-run --work_dir=.remote/work/bot-1

Started and stopped by tools/remote/buildgrid.sh (its interpreter is the BuildGrid virtual
environment: the protos come from the buildgrid package). One lease at a time (capacity 1):

1. CreateBotSession, then UpdateBotSession in a loop: a long poll while idle, a heartbeat every
   quarter of --keepalive_s while busy (BuildGrid reaps sessions silent for longer than its
   bot-session-keepalive-timeout and gives their leases to another bot).
2. For a lease: its payload (an Action, or an Action digest read from the CAS) is adapted to
   buildbox-run (_for_runner: v2.1 output_paths, the input root nested under a working
   directory), written to a file, and buildbox-run is started on it. buildbox-run does the
   real work: it fetches the Command and inputs from the CAS, runs the command in a bubblewrap
   sandbox where only --ro_bind paths of the host are visible, uploads outputs, stdout and
   stderr, and writes the ActionResult.
3. The lease goes back COMPLETED with the ActionResult (or with an error status that BuildGrid
   retries on another bot). A lease the server drops is cancelled: its runner is killed.

SIGTERM/SIGINT: the running runner is killed and its lease handed back as UNAVAILABLE (BuildGrid
re-queues it at once), then the bot exits. The decisions are the pure functions of bot_lib.py.
"""

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time

import grpc
from absl import app
from absl import flags
from absl import logging
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2_grpc
from buildgrid._protos.google.devtools.remoteworkers.v1test2 import bots_pb2
from buildgrid._protos.google.devtools.remoteworkers.v1test2 import bots_pb2_grpc
from buildgrid._protos.google.devtools.remoteworkers.v1test2 import worker_pb2
from buildgrid._protos.google.rpc import code_pb2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bot_lib  # noqa: E402  (beside this file; no package: the venv runs it as a script)

# Server.
_SERVER = flags.DEFINE_string("server", "127.0.0.1:50151", "BuildGrid host:port (Bots and CAS).")
_INSTANCE = flags.DEFINE_string("instance_name", "", "REAPI instance name.")
_KEEPALIVE_S = flags.DEFINE_float(
    "keepalive_s",
    10.0,
    "The server's bot-session-keepalive-timeout (seconds).",
    lower_bound=2.0,
)

# This bot.
_BOT_ID = flags.DEFINE_string("bot_id", None, "Unique id of this bot.")
_WORK_DIR = flags.DEFINE_string("work_dir", None, "Private scratch directory of this bot.")
_BUILDBOX_RUN = flags.DEFINE_string("buildbox_run", None, "Path of the buildbox-run binary.")
_RO_BIND = flags.DEFINE_list(
    "ro_bind",
    list(bot_lib.DEFAULT_RO_BINDS),
    "PATH or HOST:SANDBOX entries bound read-only into the sandbox (absent host paths skipped).",
)
_OS_FAMILY = flags.DEFINE_string("os_family", "linux", "Platform property OSFamily offered.")
_ISA = flags.DEFINE_string("isa", "x86-64", "Platform property ISA offered.")

_STATE_NAMES = {
    bots_pb2.LeaseState.PENDING: bot_lib.PENDING,
    bots_pb2.LeaseState.ACTIVE: bot_lib.ACTIVE,
    bots_pb2.LeaseState.COMPLETED: bot_lib.COMPLETED,
    bots_pb2.LeaseState.CANCELLED: bot_lib.CANCELLED,
}


class _Job:
    """One lease being run by buildbox-run."""

    def __init__(self, lease_id, proc, result_path, stderr_path):
        self.lease_id = lease_id
        self.proc = proc
        self.result_path = result_path
        self.stderr_path = stderr_path
        self.started = time.monotonic()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _new_session(bot_id, os_family, isa):
    device = worker_pb2.Device(handle=bot_id)
    device.properties.add(key="OSFamily", value=os_family)
    device.properties.add(key="ISA", value=isa)
    worker = worker_pb2.Worker(devices=[device])
    worker.configs.add(key="capacity", value="1")
    return bots_pb2.BotSession(bot_id=bot_id, status=bots_pb2.BotStatus.OK, worker=worker)


def _read_action(cas, instance, lease):
    """The lease's Action: packed in the payload, or read from the CAS by its digest."""
    action = remote_execution_pb2.Action()
    if lease.payload.Is(action.DESCRIPTOR):
        lease.payload.Unpack(action)
        return action
    digest = remote_execution_pb2.Digest()
    if not lease.payload.Unpack(digest):
        raise ValueError(f"lease {lease.id}: payload is neither an Action nor a Digest")
    action.ParseFromString(_read_blob(cas, instance, digest, f"lease {lease.id}: action"))
    return action


def _read_blob(cas, instance, digest, what):
    response = cas.BatchReadBlobs(
        remote_execution_pb2.BatchReadBlobsRequest(instance_name=instance, digests=[digest]),
        timeout=30,
    )
    blob = response.responses[0]
    if blob.status.code != code_pb2.OK:
        raise ValueError(f"{what} {digest.hash} not in CAS: {blob.status}")
    return blob.data


def _upload(cas, instance, message, what):
    """Puts `message` into the CAS; returns its digest."""
    data = message.SerializeToString()
    digest = remote_execution_pb2.Digest(
        hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data)
    )
    request = remote_execution_pb2.BatchUpdateBlobsRequest(instance_name=instance)
    request.requests.add(digest=digest, data=data)
    response = cas.BatchUpdateBlobs(request, timeout=30)
    if response.responses[0].status.code != code_pb2.OK:
        raise ValueError(f"could not upload the {what}: {response.responses[0].status}")
    return digest


def _for_runner(cas, instance, action):
    """The Action buildbox-run gets (Bazel's, adapted to how buildbox-run runs it), and its
    Command.

    1. buildbox-run binds the input root at the sandbox's `/`; run from there, relative paths
       come out as `//bazel-out/...` (POSIX keeps a leading `//`), which pytest rejects. The
       input root is nested one level down (bot_lib.EXECROOT) and the Command's working
       directory set to it; outputs stay relative to the working directory, as Bazel expects.
    2. Bazel 4.2.3 names outputs in the v2.0 fields only (bot_lib.output_paths_for).

    The adapted Command and root Directory are uploaded to the CAS; the lease, its job and the
    action-cache entry stay keyed by Bazel's Action digest.
    """
    command = remote_execution_pb2.Command()
    command.ParseFromString(_read_blob(cas, instance, action.command_digest, "command"))
    paths = bot_lib.output_paths_for(
        command.output_files, command.output_directories, command.output_paths
    )
    if paths is not None:
        command.output_paths.extend(paths)
    command.working_directory = bot_lib.nested_working_directory(command.working_directory)
    root = remote_execution_pb2.Directory()
    root.directories.add(name=bot_lib.EXECROOT, digest=action.input_root_digest)
    adapted = remote_execution_pb2.Action()
    adapted.CopyFrom(action)
    adapted.command_digest.CopyFrom(_upload(cas, instance, command, "adapted command"))
    adapted.input_root_digest.CopyFrom(_upload(cas, instance, root, "nested input root"))
    return adapted, command


def _start_job(config, cas, instance, lease, work_dir):
    """Writes the lease's Action to a file and starts buildbox-run on it."""
    job_dir = os.path.join(work_dir, "job")
    subprocess.run(["rm", "-rf", job_dir], check=True)
    os.makedirs(os.path.join(job_dir, "workspace"))
    action_path = os.path.join(job_dir, "action.pb")
    with open(action_path, "wb") as f:
        action, command = _for_runner(cas, instance, _read_action(cas, instance, lease))
        f.write(action.SerializeToString())
    result_path = os.path.join(job_dir, "result.pb")
    stderr_path = os.path.join(job_dir, "runner.stderr")
    argv = bot_lib.runner_argv(config, action_path, result_path, os.path.join(job_dir, "workspace"))
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr)
    program = os.path.basename(command.arguments[0]) if command.arguments else "?"
    logging.info("lease %s: started buildbox-run (pid %d): %s", lease.id, proc.pid, program)
    return _Job(lease.id, proc, result_path, stderr_path)


def _finish_lease(lease, job):
    """Fills `lease` (COMPLETED, status, ActionResult) from the finished runner."""
    result_written = os.path.exists(job.result_path) and os.path.getsize(job.result_path) > 0
    with open(job.stderr_path, errors="replace") as f:
        tail = f.read()[-4000:]
    code_name, message = bot_lib.runner_status(job.proc.returncode, result_written, tail)
    lease.state = bots_pb2.LeaseState.COMPLETED
    lease.status.code = code_pb2.Code.Value(code_name)
    lease.status.message = message
    if code_name == "OK":
        result = remote_execution_pb2.ActionResult()
        with open(job.result_path, "rb") as f:
            result.ParseFromString(f.read())
        lease.result.Pack(result)
        logging.info(
            "lease %s: done in %.1f s, exit code %d",
            lease.id,
            time.monotonic() - job.started,
            result.exit_code,
        )
    else:
        logging.warning("lease %s: %s %s", lease.id, code_name, message)


def _find_lease(session, lease_id):
    for lease in session.leases:
        if lease.id == lease_id:
            return lease
    return None


def _rpc_retryable(error):
    return error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def _run(config, stop):
    channel = grpc.insecure_channel(_SERVER.value)
    bots = bots_pb2_grpc.BotsStub(channel)
    cas = remote_execution_pb2_grpc.ContentAddressableStorageStub(channel)
    instance = _INSTANCE.value
    keepalive = _KEEPALIVE_S.value
    session = None
    job = None
    while not stop.is_set():
        try:
            if session is None:
                session = bots.CreateBotSession(
                    bots_pb2.CreateBotSessionRequest(
                        parent=instance,
                        bot_session=_new_session(_BOT_ID.value, _OS_FAMILY.value, _ISA.value),
                    ),
                    timeout=keepalive,
                )
                logging.info("bot session %s created", session.name)
            else:
                if job is not None and job.proc.poll() is not None:
                    lease = _find_lease(session, job.lease_id)
                    if lease is not None:
                        _finish_lease(lease, job)
                    job = None
                timeout = bot_lib.poll_timeout(keepalive, busy=job is not None)
                session = bots.UpdateBotSession(
                    bots_pb2.UpdateBotSessionRequest(name=session.name, bot_session=session),
                    timeout=timeout,
                )
        except grpc.RpcError as error:
            if _rpc_retryable(error):
                if error.code() == grpc.StatusCode.UNAVAILABLE:
                    logging.warning("server unavailable: %s", error.details())
                    stop.wait(1.0)
                continue
            # The server no longer knows this session (reaped, or restarted): drop its lease
            # (the server re-queued it) and start a new session.
            logging.warning("bot session lost (%s: %s)", error.code(), error.details())
            if job is not None:
                job.kill()
                job = None
            session = None
            stop.wait(1.0)
            continue

        leases = [(lease.id, _STATE_NAMES.get(lease.state, "UNKNOWN")) for lease in session.leases]
        plan = bot_lib.plan_leases(leases, job.lease_id if job is not None else None)
        if plan.cancel_running:
            logging.info("lease %s: cancelled by the server", job.lease_id)
            job.kill()
            job = None
        if plan.start is not None:
            lease = _find_lease(session, plan.start)
            lease.state = bots_pb2.LeaseState.ACTIVE
            try:
                job = _start_job(config, cas, instance, lease, _WORK_DIR.value)
            except (OSError, ValueError, grpc.RpcError) as error:
                lease.state = bots_pb2.LeaseState.COMPLETED
                lease.status.code = code_pb2.INTERNAL
                lease.status.message = f"bot could not start the action: {error}"
                logging.warning("lease %s: %s", lease.id, lease.status.message)
        if job is not None:
            # Busy: wait for the runner, at most until the next heartbeat is due.
            with contextlib.suppress(subprocess.TimeoutExpired):
                job.proc.wait(timeout=bot_lib.poll_timeout(keepalive, busy=True))

    # Stopping: hand the running lease back so BuildGrid re-queues it at once.
    if job is not None and session is not None:
        job.kill()
        lease = _find_lease(session, job.lease_id)
        if lease is not None:
            lease.state = bots_pb2.LeaseState.COMPLETED
            lease.status.code = code_pb2.UNAVAILABLE
            lease.status.message = f"bot {_BOT_ID.value} is stopping"
            try:
                bots.UpdateBotSession(
                    bots_pb2.UpdateBotSessionRequest(name=session.name, bot_session=session),
                    timeout=5,
                )
                logging.info("lease %s: handed back", lease.id)
            except grpc.RpcError as error:
                logging.warning("could not hand lease %s back: %s", lease.id, error.code())
    channel.close()


def main(argv):
    del argv  # Unused.
    try:
        ro_binds = bot_lib.parse_ro_binds(_RO_BIND.value)
    except ValueError as error:
        raise app.UsageError(str(error)) from error
    if not os.access(_BUILDBOX_RUN.value, os.X_OK):
        raise app.UsageError(f"--buildbox_run={_BUILDBOX_RUN.value} is not an executable")
    config = bot_lib.RunnerConfig(
        buildbox_run=os.path.abspath(_BUILDBOX_RUN.value),
        cas_url=f"grpc://{_SERVER.value}",
        instance=_INSTANCE.value,
        ro_binds=ro_binds,
    )
    os.makedirs(_WORK_DIR.value, exist_ok=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    logging.info("bot %s serving %s", _BOT_ID.value, _SERVER.value)
    _run(config, stop)
    logging.info("bot %s stopped", _BOT_ID.value)


if __name__ == "__main__":
    flags.mark_flags_as_required(["bot_id", "work_dir", "buildbox_run"])
    app.run(main)
