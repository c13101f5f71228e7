import json
from dataclasses import dataclass

import pytest

from domain_electra.artifacts import MANIFEST, run_stage
from domain_electra.errors import UserError


@dataclass(frozen=True)
class Cfg:
    n: int = 1


def counting_build(calls):
    def build(folder):
        calls.append(folder)
        (folder / "data.txt").write_text("x")
        return {"rows": 3}
    return build


def test_stage_writes_config_and_manifest_then_skips(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("hello")
    calls = []
    first = run_stage("demo", tmp_path / "out", Cfg(), {"src": src}, counting_build(calls))
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert not first.skipped and len(calls) == 1
    assert manifest["status"] == "complete" and manifest["outputs"] == {"rows": 3}
    assert manifest["inputs"]["src"]["fingerprint"] and "torch" in manifest["versions"]
    assert (tmp_path / "out" / "config.yaml").read_text().strip() == "n: 1"
    second = run_stage("demo", tmp_path / "out", Cfg(), {"src": src}, counting_build(calls))
    assert second.skipped and len(calls) == 1


def test_changed_input_or_config_reruns(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("hello")
    calls = []
    run_stage("demo", tmp_path / "out", Cfg(), {"src": src}, counting_build(calls))
    (src / "b.txt").write_text("new file")
    assert not run_stage("demo", tmp_path / "out", Cfg(), {"src": src}, counting_build(calls)).skipped
    assert not run_stage("demo", tmp_path / "out", Cfg(n=2), {"src": src}, counting_build(calls)).skipped
    assert len(calls) == 3


def test_interrupted_stage_keeps_its_files_for_resume(tmp_path):
    def crash(folder):
        (folder / "checkpoint").write_text("step 5")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_stage("demo", tmp_path / "out", Cfg(), {}, crash)
    assert not (tmp_path / "out" / MANIFEST).exists()
    seen = []
    run_stage("demo", tmp_path / "out", Cfg(), {}, lambda f: seen.append((f / "checkpoint").read_text()))
    assert seen == ["step 5"]


def test_refuses_to_write_into_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(UserError, match="not written by domain-electra"):
        run_stage("demo", tmp_path / "mine", Cfg(), {}, lambda f: None)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


# --- one run per folder: the run lock -------------------------------------------------------------------
HOLD = """
import sys, time
from domain_electra.artifacts import folder_lock
with folder_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def _holder(out):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_run_on_the_same_folder_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "out"
    first = _holder(out)
    try:
        lock = json.loads((out / ".domain-electra.lock").read_text())
        assert lock["pid"] == first.pid and lock["host"] and lock["started"]
        calls = []
        with pytest.raises(UserError) as err:
            run_stage("demo", out, Cfg(), {}, counting_build(calls))
        message = str(err.value)
        assert "\n" not in message and f"pid {first.pid}" in message and "in use by another run" in message
        assert calls == [] and (out / ".domain-electra.lock").is_file()  # the holder's lock is left alone
    finally:
        first.kill()
        first.wait()


def test_stale_lock_of_a_killed_run_is_cleared_with_a_notice(tmp_path, capsys):
    import signal
    import socket

    out = tmp_path / "out"
    first = _holder(out)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert (out / ".domain-electra.lock").is_file()
    calls = []
    result = run_stage("demo", out, Cfg(), {}, counting_build(calls))
    notices = [line for line in capsys.readouterr().err.splitlines() if "stale lock" in line]
    assert len(notices) == 1 and f"pid {first.pid}" in notices[0] and socket.gethostname() in notices[0]
    assert not result.skipped and len(calls) == 1 and not (out / ".domain-electra.lock").exists()


def test_lock_of_a_live_process_blocks_and_a_reused_pid_does_not(tmp_path):
    import os
    import socket

    from domain_electra.artifacts import _process_start

    out = tmp_path / "out"
    out.mkdir()
    lock = out / ".domain-electra.lock"
    me = {"pid": os.getpid(), "host": socket.gethostname(), "proc_start": _process_start(os.getpid()),
          "started": "2026-12-02T06:00:00+00:00"}
    lock.write_text(json.dumps(me))  # the test's own pid, alive, but not a lock this process took
    with pytest.raises(UserError, match=f"in use by another run \\(pid {os.getpid()}"):
        run_stage("demo", out, Cfg(), {}, counting_build([]))
    lock.write_text(json.dumps({**me, "proc_start": me["proc_start"] + 1}))  # same pid, another process
    assert not run_stage("demo", out, Cfg(), {}, counting_build([])).skipped
    lock.write_text(json.dumps({**me, "host": "another-host"}))  # cannot be checked from here: assumed alive
    with pytest.raises(UserError, match="on another-host"):
        run_stage("demo", out, Cfg(), {}, counting_build([]), force=True)


def test_lock_is_reentrant_within_a_run_and_released_after(tmp_path):
    from domain_electra.artifacts import folder_lock

    out = tmp_path / "out"
    with folder_lock(out):
        run_stage("demo", out, Cfg(), {}, counting_build([]))  # a stage inside a command that holds the lock
        assert (out / ".domain-electra.lock").is_file()
    assert not (out / ".domain-electra.lock").exists()
    assert run_stage("demo", out, Cfg(), {}, counting_build([])).skipped


# --- inputs provided afresh: new timestamps, same bytes --------------------------------------------------
def _touch_later(folder):
    """Give every file a new mtime (as a fresh clone or a copy without timestamps does), bytes unchanged."""
    import os

    for path in folder.rglob("*"):
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))


def test_inputs_with_new_timestamps_but_the_same_bytes_reuse_the_stage(tmp_path, capsys, monkeypatch):
    import domain_electra.artifacts as artifacts

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("hello")
    calls = []
    run_stage("demo", tmp_path / "out", Cfg(), {"src": src}, counting_build(calls))
    manifest_bytes = (tmp_path / "out" / MANIFEST).read_bytes()
    _touch_later(src)
    assert run_stage("demo", tmp_path / "out", Cfg(), {"src": src}, counting_build(calls)).skipped
    assert len(calls) == 1 and "same bytes" in capsys.readouterr().err
    # The manifest is untouched, so stages downstream (which fingerprint it) are reused too.
    assert (tmp_path / "out" / MANIFEST).read_bytes() == manifest_bytes
    # The checked timestamps are remembered: the next run does not read the bytes again.
    hashed = []
    real = artifacts.content_fingerprint
    monkeypatch.setattr(artifacts, "content_fingerprint", lambda p: hashed.append(p) or real(p))
    assert run_stage("demo", tmp_path / "out", Cfg(), {"src": src}, counting_build(calls)).skipped
    assert hashed == [] and len(calls) == 1


def test_same_size_new_bytes_rebuild(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("hello")
    calls = []
    run_stage("demo", tmp_path / "out", Cfg(), {"src": src}, counting_build(calls))
    (src / "a.txt").write_text("jello")  # same size, other bytes
    _touch_later(src)
    assert not run_stage("demo", tmp_path / "out", Cfg(), {"src": src}, counting_build(calls)).skipped
    assert len(calls) == 2


def test_an_interrupted_stage_resumes_after_its_inputs_are_provided_afresh(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("hello")

    def crash(folder):
        (folder / "checkpoint").write_text("step 5")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_stage("demo", tmp_path / "out", Cfg(), {"src": src}, crash)
    _touch_later(src)
    seen = []
    run_stage("demo", tmp_path / "out", Cfg(), {"src": src}, lambda f: seen.append((f / "checkpoint").read_text()))
    assert seen == ["step 5"]
    with pytest.raises(KeyboardInterrupt):  # changed bytes: a fresh start, the old checkpoint wiped
        run_stage("demo", tmp_path / "out3", Cfg(), {"src": src}, crash)
    (src / "a.txt").write_text("other bytes")
    leftovers = []
    run_stage("demo", tmp_path / "out3", Cfg(), {"src": src}, lambda f: leftovers.append((f / "checkpoint").exists()))
    assert leftovers == [False]
