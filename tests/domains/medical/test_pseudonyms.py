"""Pseudonyms: stable within a key, not reversible by enumerating the id format, the key never written out."""

import hashlib
import os
import stat
import subprocess
import sys

from domains.medical import pseudonyms


def test_same_patient_same_pseudonym_and_another_key_another_one(tmp_path, monkeypatch):
    a = pseudonyms.pseudonym("PAT0042")
    assert a == pseudonyms.pseudonym("PAT0042") and len(a) == 16 and a != pseudonyms.pseudonym("PAT0043")
    assert pseudonyms.pseudonym("") == ""
    monkeypatch.setenv("RESTOOLKIT_PSEUDONYM_KEY_FILE", str(tmp_path / "other.key"))
    assert pseudonyms.pseudonym("PAT0042") != a
    mode = stat.S_IMODE(os.stat(tmp_path / "other.key").st_mode)
    assert mode == 0o600 and len((tmp_path / "other.key").read_bytes()) == 32


def test_guessing_the_id_format_does_not_reverse_them():
    """The measured attack: hash every id of the format and look the pseudonyms up. Without the key it
    finds nothing (with the unsalted SHA-256 of before it found all of them)."""
    patients = [f"PAT{i:04d}" for i in (7, 123, 4242, 9999)]
    published = {pseudonyms.pseudonym(p) for p in patients}
    guesses = {f"PAT{i:04d}" for i in range(10_000)}
    unsalted = {hashlib.sha256(g.encode()).hexdigest()[:16] for g in guesses}
    assert not published & unsalted
    assert {hashlib.sha256(p.encode()).hexdigest()[:16] for p in patients} <= unsalted  # the old scheme fell


def test_a_new_process_with_the_same_key_file_gives_the_same_pseudonyms(tmp_path):
    env = {**os.environ, "RESTOOLKIT_PSEUDONYM_KEY_FILE": str(tmp_path / "k")}
    code = "from domains.medical.pseudonyms import pseudonym; print(pseudonym('PAT0001'))"
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs[0] == runs[1] and len(runs[0].strip()) == 16


def test_processes_creating_the_key_together_agree_and_never_read_a_half_written_one(tmp_path):
    """Decoding workers start together on a new machine: each must get the one full key (this race once
    gave a worker an empty key file)."""
    env = {**os.environ, "RESTOOLKIT_PSEUDONYM_KEY_FILE": str(tmp_path / "k")}
    code = "from domains.medical.pseudonyms import pseudonym; print(pseudonym('PAT0001'))"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(6)]
    outs = [p.communicate() for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    assert len({out for out, _ in outs}) == 1 and len(outs[0][0].strip()) == 16
    assert [p.name for p in tmp_path.iterdir()] == ["k"]  # no drafts left behind
