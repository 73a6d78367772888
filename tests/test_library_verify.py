"""Tests for :mod:`hallmark.library`: ``hallmark.verify`` and its documented example (issue #6)."""

from __future__ import annotations

import dataclasses
import doctest
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import hallmark
from hallmark import library
from hallmark.errors import ConfigError, HallmarkError, InputError
from hallmark.services import registry
from hallmark.services.instance import Instance
from tests.conftest import add_user, make_instance

ROOT = Path(__file__).resolve().parents[1]
POEM = b"Salt on the window,\nthe harbour still asleep.\n"


@dataclasses.dataclass
class Registered:
    path: Path
    bundle: Path
    key: str
    certificate_id: str


def _register(
    inst: Instance, folder: Path, data: bytes = POEM, name: str = "poem.txt"
) -> Registered:
    creator = add_user(inst, "mara")
    registration = registry.register_work(
        inst, creator_id=creator, data=data, title="Harbour", declare="human-made"
    )
    path = folder / name
    path.write_bytes(data)
    bundle = folder / (name + ".hallmark.json")
    bundle.write_text(json.dumps(registration.bundle), "utf-8")
    return Registered(path, bundle, inst.verifier_key, registration.certificate_id)


@pytest.fixture
def work(instance: Instance, tmp_path: Path) -> Registered:
    folder = tmp_path / "files"
    folder.mkdir()
    return _register(instance, folder)


def test_a_registered_work_is_valid(work: Registered) -> None:
    verdict = hallmark.verify(work.path, public_key=work.key)
    assert isinstance(verdict, hallmark.Verdict)
    assert (verdict.valid, verdict.reason, verdict.matched) == (True, "valid", "sha256")
    assert (verdict.label, verdict.level, verdict.ai_share) == ("human-made", "declared", 0.0)
    assert verdict.certificate_id == work.certificate_id
    assert verdict.title == "Harbour" and verdict.creator == "mara"
    assert verdict.log_index == 0 and verdict.tree_size == 1
    assert verdict.revocation_reason is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.valid = False  # type: ignore[misc]


def test_paths_may_be_strings_and_the_bundle_named(work: Registered, tmp_path: Path) -> None:
    elsewhere = tmp_path / "saved.json"
    work.bundle.rename(elsewhere)
    verdict = hallmark.verify(str(work.path), bundle=str(elsewhere), public_key=work.key)
    assert verdict.valid


def test_the_key_may_be_a_file(work: Registered, tmp_path: Path) -> None:
    key_file = tmp_path / "instance.pub"
    key_file.write_text(work.key + "\n", "utf-8")
    assert hallmark.verify(work.path, public_key=key_file).valid
    assert hallmark.verify(work.path, public_key=str(key_file)).valid


def test_a_tampered_file_is_not_valid(work: Registered) -> None:
    work.path.write_bytes(POEM.replace(b"asleep", b"awake"))
    verdict = hallmark.verify(work.path, public_key=work.key)
    assert (verdict.valid, verdict.reason, verdict.matched) == (False, "content-changed", None)
    assert verdict.detail == "The file's content differs from the certified work."


def test_a_resaved_text_still_matches_its_normalized_digest(work: Registered) -> None:
    work.path.write_bytes(POEM.replace(b"\n", b"\r\n"))
    verdict = hallmark.verify(work.path, public_key=work.key)
    assert (verdict.valid, verdict.matched) == (True, "normalized-text")


def test_another_instances_key_is_not_valid(work: Registered, tmp_path: Path) -> None:
    other = make_instance(tmp_path / "other")
    try:
        verdict = hallmark.verify(work.path, public_key=other.verifier_key)
    finally:
        other.close()
    assert (verdict.valid, verdict.reason) == (False, "bad-signature")


def test_a_missing_bundle_is_an_input_error(work: Registered) -> None:
    work.bundle.unlink()
    with pytest.raises(InputError) as caught:
        hallmark.verify(work.path, public_key=work.key)
    assert str(work.bundle) in caught.value.detail and "does not exist" in caught.value.detail
    assert caught.value.hint and "bundle=" in caught.value.hint


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"The file .*nothing\.txt does not exist"):
        hallmark.verify(tmp_path / "nothing.txt", public_key="unused+00000000+AA==")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The bundle file is empty."),
        (b"{not json", "bundle"),
        (b'{"media_type": "text/plain"}', "This is not a Hallmark bundle"),
    ],
)
def test_an_unreadable_bundle_is_an_input_error(
    work: Registered, content: bytes, message: str
) -> None:
    work.bundle.write_bytes(content)
    with pytest.raises(InputError, match=re.escape(message)):
        hallmark.verify(work.path, public_key=work.key)


def test_a_folder_is_not_a_file(work: Registered, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder, not a file"):
        hallmark.verify(tmp_path, bundle=work.bundle, public_key=work.key)


def test_a_malformed_key_is_an_input_error(work: Registered) -> None:
    with pytest.raises(InputError):
        hallmark.verify(work.path, public_key="name+zz+not base64")
    with pytest.raises(InputError, match=re.escape("The key file no-such.pub does not exist")):
        hallmark.verify(work.path, public_key="no-such.pub")


def test_without_a_key_the_local_instance_is_used(
    instance: Instance, work: Registered, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = instance.settings.home
    assert hallmark.verify(work.path, home=home).valid
    # As on the command line, HALLMARK_HOME names the instance when home= is not given.
    monkeypatch.setenv("HALLMARK_HOME", str(home))
    assert hallmark.verify(work.path).valid


def test_without_a_key_or_an_instance_it_says_what_to_pass(
    work: Registered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HALLMARK_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="No key to verify with") as caught:
        hallmark.verify(work.path)
    assert caught.value.hint and "public_key=" in caught.value.hint
    with pytest.raises(ConfigError, match="There is no Hallmark instance"):
        hallmark.verify(work.path, public_key=work.key, home=tmp_path / "nowhere")


def test_the_instance_knows_a_revocation_the_bundle_does_not(
    instance: Instance, work: Registered
) -> None:
    registry.revoke(instance, certificate_id=work.certificate_id, reason="Wrong file.", actor=None)
    # The bundle was saved before the revocation, so the key alone cannot know about it.
    assert hallmark.verify(work.path, public_key=work.key).valid
    verdict = hallmark.verify(work.path, public_key=work.key, home=instance.settings.home)
    assert (verdict.valid, verdict.reason) == (False, "revoked")
    assert verdict.detail.endswith("Reason given: Wrong file.")


def test_a_revocation_in_the_bundle_is_reported(instance: Instance, work: Registered) -> None:
    registry.revoke(instance, certificate_id=work.certificate_id, reason="Wrong file.", actor=None)
    with instance.db.session() as session:
        cert = registry.find_certificate(session, work.certificate_id)
        work.bundle.write_text(json.dumps(registry.build_bundle(session, cert).to_json()))
    verdict = hallmark.verify(work.path, public_key=work.key)
    assert (verdict.valid, verdict.reason) == (False, "revoked")
    assert verdict.revocation_reason == "Wrong file."


def test_errors_share_the_one_root(tmp_path: Path) -> None:
    with pytest.raises(HallmarkError):
        hallmark.verify(tmp_path / "nothing.txt")


def test_importing_hallmark_stays_light() -> None:
    # The base install verifies with a key; neither importing the package nor verifying may
    # pull in the server extras.
    code = (
        "import sys, hallmark; hallmark.verify; hallmark.Verdict; "
        "heavy = {'sqlalchemy', 'fastapi', 'pydantic', 'jinja2'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def _run_doctest(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


@pytest.fixture
def plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The examples create their own SQLite instance; a database URL from the environment
    # (as CI sets for PostgreSQL) would win over it.
    monkeypatch.delenv("HALLMARK_DATABASE_URL", raising=False)
    monkeypatch.delenv("HALLMARK_HOME", raising=False)


@pytest.mark.usefixtures("plain_env")
def test_the_docstring_example_runs() -> None:
    (test,) = doctest.DocTestFinder().find(library.verify, "hallmark.verify", globs={})
    assert len(test.examples) > 10
    _run_doctest(test)


@pytest.mark.usefixtures("plain_env")
def test_the_docs_example_runs() -> None:
    text = (ROOT / "docs" / "verify.md").read_text("utf-8")
    blocks = re.findall(r"```pycon\n(.*?)```", text, re.DOTALL)
    assert len(blocks) == 1, "docs/verify.md has one runnable example"
    test = doctest.DocTestParser().get_doctest(blocks[0], {}, "docs/verify.md", None, 0)
    _run_doctest(test)


def test_the_docs_and_the_docstring_show_the_same_example() -> None:
    text = (ROOT / "docs" / "verify.md").read_text("utf-8")
    (block,) = re.findall(r"```pycon\n(.*?)```", text, re.DOTALL)
    docstring = library.verify.__doc__ or ""
    parse = doctest.DocTestParser().get_examples
    assert [e.source for e in parse(block)] == [e.source for e in parse(docstring)]


def test_the_readme_library_example_runs(
    work: Registered, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    found = re.search(r"## Library\n.*?```python\n(.*?)```", readme, re.DOTALL)
    assert found, "README.md has no Library example"
    # The README's command-line example leaves poem.txt, its bundle and instance.pub behind.
    (work.path.parent / "instance.pub").write_text(work.key + "\n", "utf-8")
    monkeypatch.chdir(work.path.parent)
    exec(compile(found.group(1), "README.md", "exec"), {})
    assert capsys.readouterr().out == "True valid human-made declared\n"
