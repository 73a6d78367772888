"""The ``hallmark`` command line: every command, its output for scripts, and its exit codes.

Most tests drive the Typer app in-process with ``CliRunner``; the register -> verify flow, the
exit codes and offline verification without the server extras also run the installed
``hallmark`` script in a real subprocess, as a user would.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from hallmark.cli import state as cli_state
from hallmark.cli.main import app
from hallmark.core.bundle import Bundle
from hallmark.core.certificate import leaf_input
from hallmark.ledger import merkle
from hallmark.ledger.checkpoint import open_checkpoint
from hallmark.ledger.note import parse_verifier_key
from hallmark.services import accounts
from hallmark.services.instance import Instance, open_instance
from hallmark.settings import CONFIG_FILE, Settings

HALLMARK = Path(sys.executable).with_name("hallmark")
POEM = "Lanterns on the pier\nblink out one by one\nas the ferry leaves.\n"

Cli = Callable[..., Result]


def invoke(home: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, ["--home", str(home), *args], input=input)


def run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, in a fresh process."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HALLMARK_")}
    environment.update(env)
    return subprocess.run(
        [str(HALLMARK), "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    result = invoke(path, "init")
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def cli(home: Path) -> Cli:
    return lambda *args, **kw: invoke(home, *args, **kw)


@pytest.fixture
def opened(home: Path) -> Iterator[Instance]:
    inst = open_instance(Settings.load(home))
    yield inst
    inst.close()


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def register_args(
    path: Path, *extra: str, title: str = "Pier", creator: str = "ines", declare: str = "human-made"
) -> list[str]:
    return [
        "register",
        str(path),
        "--title",
        title,
        "--creator",
        creator,
        "--declare",
        declare,
        *extra,
    ]


def register(cli: Cli, path: Path, *extra: str) -> dict[str, Any]:
    result = cli(*register_args(path, "--json", *extra))
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def verify_json(cli: Cli, path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = cli("verify", str(path), "--json", *extra)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def bundle_of(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.with_name(path.name + ".hallmark.json").read_text())
    return document


def save_bundle(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document), "utf-8")
    return path


def public_key(cli: Cli) -> str:
    result = cli("keys", "public")
    assert result.exit_code == 0, result.output
    return result.stdout


def other_instance(tmp_path: Path) -> Path:
    """A second instance with its own key and one registered work, so it has a checkpoint."""
    other = tmp_path / "other"
    assert invoke(other, "init").exit_code == 0
    work = write(tmp_path / "elsewhere.txt", "A different poem,\nfrom a different log.\n")
    assert invoke(other, *register_args(work, title="Else", creator="olu")).exit_code == 0
    return other


# init, keys ---------------------------------------------------------------------------------


def test_init_prints_where_everything_is_and_the_verifier_key(tmp_path: Path) -> None:
    path = tmp_path / "fresh"
    result = invoke(path, "init", "--origin", "poets.example/log")
    assert result.exit_code == 0, result.output
    assert str(path.resolve() / CONFIG_FILE) in result.stdout
    assert "signing.pem" in result.stdout and "hallmark.db" in result.stdout
    vkey = result.stdout.strip().splitlines()[-1]
    assert parse_verifier_key(vkey).name == "poets.example/log"


def test_init_refuses_to_replace_an_instance_unless_if_missing(home: Path, cli: Cli) -> None:
    key = public_key(cli)
    again = cli("init")
    assert again.exit_code == 2
    assert "already exists" in again.stderr
    kept = cli("init", "--if-missing")
    assert kept.exit_code == 0, kept.output
    assert public_key(cli) == key


def test_init_refuses_a_bad_origin_before_writing_anything(tmp_path: Path) -> None:
    result = invoke(tmp_path / "bad", "init", "--origin", "has space")
    assert result.exit_code == 2
    assert "space" in result.stderr
    assert not (tmp_path / "bad").exists()


def test_keys_public_prints_one_line_that_parses(cli: Cli, opened: Instance) -> None:
    output = public_key(cli)
    assert output.endswith("\n") and output.count("\n") == 1
    verifier = parse_verifier_key(output)
    assert verifier.vkey() == opened.verifier_key


def test_the_cli_and_settings_agree_on_the_config_file_name() -> None:
    assert cli_state.CONFIG_FILE == CONFIG_FILE


# register -> verify, in a real subprocess -----------------------------------------------------


def test_register_then_verify_with_the_installed_script(home: Path, tmp_path: Path) -> None:
    poem = write(tmp_path / "poem.txt", POEM)
    args = register_args(poem, "--ai-share", "12.5", "--json", declare="ai-assisted")
    registered = run(home, *args)
    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.count("\n") == 1, "exactly one JSON object on stdout"
    document = json.loads(registered.stdout)
    assert document["label"] == "ai-assisted" and document["level"] == "declared"
    assert document["ai_share"] == 12.5
    assert document["work_id"].startswith("w_") and document["certificate_id"].startswith("c_")
    assert document["log_index"] == 0
    assert document["bundle_path"] == str(tmp_path / "poem.txt.hallmark.json")
    bundle = Bundle.parse(Path(document["bundle_path"]).read_bytes())
    assert bundle.certificate.id == document["certificate_id"]
    assert bundle.certificate.work["title"] == "Pier"

    valid = run(home, "verify", str(poem), "--json")
    assert valid.returncode == 0, valid.stderr
    verdict = json.loads(valid.stdout)
    assert verdict["valid"] is True and verdict["reason"] == "valid"
    assert verdict["matched"] == "sha256"
    assert (verdict["label"], verdict["level"]) == ("ai-assisted", "declared")

    human = run(home, "verify", str(poem))
    assert human.returncode == 0 and "VALID" in human.stdout

    write(poem, POEM.replace("ferry", "Ferry"))
    changed = run(home, "verify", str(poem), "--json")
    assert changed.returncode == 1
    assert json.loads(changed.stdout)["reason"] == "content-changed"

    missing = run(home, "verify", str(tmp_path / "nowhere.txt"))
    assert missing.returncode == 2
    assert missing.stderr.startswith("Error: ") and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr

    malformed = write(tmp_path / "broken.json", "{not json")
    unreadable = run(home, "verify", str(poem), "--bundle", str(malformed))
    assert unreadable.returncode == 2
    assert "not valid JSON" in unreadable.stderr


def test_offline_verify_needs_neither_an_instance_nor_the_server_extras(
    home: Path, cli: Cli, tmp_path: Path
) -> None:
    poem = write(tmp_path / "poem.txt", POEM)
    register(cli, poem)
    key = write(tmp_path / "issuer.pub", public_key(cli))
    # Block the server extras, as on a base `pip install hallmark`, then run the CLI. (pydantic
    # itself stays: recent Typer depends on it.)
    script = (
        "import sys\n"
        "for name in ('sqlalchemy', 'pydantic_settings', 'fastapi', 'PIL', 'argon2'):\n"
        "    sys.modules[name] = None\n"
        "from hallmark.cli.main import main\n"
        "sys.argv = ['hallmark'] + sys.argv[1:]\n"
        "main()\n"
    )
    args = ["--home", str(tmp_path / "no-instance"), "verify", str(poem), "--key", str(key)]
    result = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "VALID" in result.stdout


# verify: each kind of tampering gets its reason ---------------------------------------------


def test_a_resaved_text_still_verifies_by_its_normalized_text(cli: Cli, tmp_path: Path) -> None:
    poem = write(tmp_path / "poem.txt", POEM)
    register(cli, poem)
    write(poem, POEM.replace("\n", "  \r\n"))
    code, verdict = verify_json(cli, poem)
    assert code == 0
    assert verdict["valid"] is True and verdict["matched"] == "normalized-text"


def test_a_changed_certificate_is_a_bad_signature(cli: Cli, tmp_path: Path) -> None:
    poem = write(tmp_path / "poem.txt", POEM)
    register(cli, poem)
    document = bundle_of(poem)
    document["certificate"]["work"]["title"] = "Someone Else's Pier"
    forged = save_bundle(tmp_path / "forged.json", document)
    code, verdict = verify_json(cli, poem, "--bundle", str(forged))
    assert (code, verdict["valid"], verdict["reason"]) == (1, False, "bad-signature")


def test_a_changed_proof_does_not_match_the_checkpoint(cli: Cli, tmp_path: Path) -> None:
    register(cli, write(tmp_path / "first.txt", "An earlier entry,\nso the proof is not empty.\n"))
    poem = write(tmp_path / "poem.txt", POEM)
    register(cli, poem)
    document = bundle_of(poem)
    hashes = document["inclusion_proof"]["hashes"]
    assert hashes, "a tree of two leaves has a one-hash proof"
    raw = bytearray(base64.b64decode(hashes[0]))
    raw[0] ^= 0x01
    hashes[0] = base64.b64encode(bytes(raw)).decode()
    tampered = save_bundle(tmp_path / "tampered.json", document)
    code, verdict = verify_json(cli, poem, "--bundle", str(tampered))
    assert (code, verdict["reason"]) == (1, "proof-mismatch")


def test_a_checkpoint_signed_by_another_key_is_refused(cli: Cli, tmp_path: Path) -> None:
    poem = write(tmp_path / "poem.txt", POEM)
    register(cli, poem)
    foreign_note = invoke(other_instance(tmp_path), "log", "checkpoint").stdout
    document = bundle_of(poem)
    document["checkpoint"] = foreign_note
    swapped = save_bundle(tmp_path / "swapped.json", document)
    code, verdict = verify_json(cli, poem, "--bundle", str(swapped))
    assert (code, verdict["reason"]) == (1, "bad-checkpoint-signature")


def test_a_revoked_certificate_is_not_valid(cli: Cli, tmp_path: Path) -> None:
    poem = write(tmp_path / "poem.txt", POEM)
    certificate_id = register(cli, poem)["certificate_id"]
    revoked = cli("revoke", certificate_id, "--reason", "Registered under the wrong name.")
    assert revoked.exit_code == 0, revoked.output
    assert certificate_id in revoked.stdout
    # The bundle on disk predates the revocation; the local instance knows better.
    code, verdict = verify_json(cli, poem)
    assert (code, verdict["valid"], verdict["reason"]) == (1, False, "revoked")
    assert "wrong name" in verdict["detail"]
    assert verdict["revocation"]["certificate_id"] == certificate_id
    again = cli("revoke", certificate_id, "--reason", "Twice.")
    assert again.exit_code == 2 and "already revoked" in again.stderr


def test_another_instances_key_given_with_key_is_not_valid(cli: Cli, tmp_path: Path) -> None:
    poem = write(tmp_path / "poem.txt", POEM)
    register(cli, poem)
    foreign = invoke(other_instance(tmp_path), "keys", "public").stdout
    key = write(tmp_path / "foreign.pub", foreign)
    code, verdict = verify_json(cli, poem, "--key", str(key))
    assert (code, verdict["reason"]) == (1, "bad-signature")


def test_verify_with_key_needs_no_local_instance(cli: Cli, tmp_path: Path) -> None:
    poem = write(tmp_path / "poem.txt", POEM)
    register(cli, poem)
    key = write(tmp_path / "issuer.pub", public_key(cli))
    result = invoke(tmp_path / "absent", "verify", str(poem), "--key", str(key), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["valid"] is True


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no-bundle", "does not exist"),
        ("malformed-bundle", "not valid JSON"),
        ("wrong-version", "version"),
        ("bad-key", "verifier key"),
        ("no-key", "No key to verify with"),
    ],
)
def test_unusable_input_exits_2(cli: Cli, tmp_path: Path, setup: str, message: str) -> None:
    poem = write(tmp_path / "poem.txt", POEM)
    register(cli, poem)
    args = ["verify", str(poem)]
    home = tmp_path / "home"
    if setup == "no-bundle":
        args += ["--bundle", str(tmp_path / "missing.json")]
    elif setup == "malformed-bundle":
        args += ["--bundle", str(write(tmp_path / "b.json", '{"version": 1,'))]
    elif setup == "wrong-version":
        document = bundle_of(poem) | {"version": 99}
        args += ["--bundle", str(save_bundle(tmp_path / "b.json", document))]
    elif setup == "bad-key":
        args += ["--key", str(write(tmp_path / "bad.pub", "not a key at all"))]
    else:
        home = tmp_path / "absent"
    result = invoke(home, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stdout == ""


# the one error handler ------------------------------------------------------------------------


def test_errors_have_one_shape_on_stderr(tmp_path: Path) -> None:
    result = invoke(tmp_path / "nothing-here", "keys", "public")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Error: There is no Hallmark instance in {tmp_path / 'nothing-here'}.",
        f"Hint: Create one with 'hallmark --home {tmp_path / 'nothing-here'} init', or point "
        "--home (or HALLMARK_HOME) at an existing instance.",
    ]


def test_an_unexpected_error_is_a_short_message_and_exit_3(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    poem = write(tmp_path / "poem.txt", POEM)
    register(cli, poem)

    def explode(*_args: object) -> None:
        raise RuntimeError("the disk sighed")

    monkeypatch.setattr("hallmark.cli.main.verify_bundle", explode)
    result = cli("verify", str(poem))
    assert result.exit_code == 3
    assert "Unexpected internal error (RuntimeError: the disk sighed)" in result.stderr
    assert "HALLMARK_DEBUG=1" in result.stderr and "Traceback" not in result.output

    monkeypatch.setenv("HALLMARK_DEBUG", "1")
    debug = cli("verify", str(poem))
    assert isinstance(debug.exception, RuntimeError)


def test_usage_mistakes_exit_2(cli: Cli, tmp_path: Path) -> None:
    poem = write(tmp_path / "poem.txt", POEM)
    assert cli("register", str(poem), "--title", "No creator").exit_code == 2
    label = cli("register", str(poem), "--title", "T", "--creator", "ines", "--declare", "robot")
    assert label.exit_code == 2
    assert "not an origin label" in label.stderr and "Hint: Use one of" in label.stderr


# register -------------------------------------------------------------------------------------


def test_register_refuses_bad_input_before_creating_the_creator(
    cli: Cli, opened: Instance, tmp_path: Path
) -> None:
    poem = write(tmp_path / "poem.txt", POEM)
    result = cli(*register_args(poem, creator="newcomer", declare="ai-assisted"))
    assert result.exit_code == 2
    assert "must state its AI share" in result.stderr
    with opened.db.session() as session:
        assert accounts.find_user(session, "newcomer") is None
    assert not (tmp_path / "poem.txt.hallmark.json").exists()


def test_register_the_same_content_twice_is_a_conflict(cli: Cli, tmp_path: Path) -> None:
    register(cli, write(tmp_path / "poem.txt", POEM))
    copy = write(tmp_path / "copy.txt", POEM)
    result = cli(*register_args(copy, title="Mine now", creator="thief"))
    assert result.exit_code == 2
    assert "already registered" in result.stderr
    assert not (tmp_path / "copy.txt.hallmark.json").exists()


def test_summaries_for_people_show_titles_literally(cli: Cli, tmp_path: Path) -> None:
    poem = write(tmp_path / "poem.txt", POEM)
    registered = cli(*register_args(poem, "--visibility", "unlisted", title="[bold]Pier[/]"))
    assert registered.exit_code == 0, registered.output
    assert "Registered poem.txt." in registered.stdout
    assert "poem.txt.hallmark.json" in registered.stdout
    verified = cli("verify", str(poem))
    assert verified.exit_code == 0, verified.output
    # A title is user data: Rich must print it as typed, never read it as markup.
    assert "[bold]Pier[/]" in verified.stdout


# log ------------------------------------------------------------------------------------------


def test_log_audit_passes_then_catches_a_corrupted_node(
    home: Path, cli: Cli, tmp_path: Path
) -> None:
    for number in range(3):
        register(cli, write(tmp_path / f"p{number}.txt", f"Poem number {number}.\n"))
    sound = cli("log", "audit")
    assert sound.exit_code == 0, sound.output
    assert "3 entries recomputed" in sound.stdout

    with sqlite3.connect(home / "hallmark.db") as db:
        changed = db.execute(
            "UPDATE log_nodes SET hash = ? WHERE level = 0 AND idx = 1", (bytes(32),)
        ).rowcount
    assert changed == 1
    broken = cli("log", "audit")
    assert broken.exit_code == 1
    assert "does NOT check out" in broken.stdout
    assert "stored node (0, 1) does not match" in broken.stdout
    as_json = cli("log", "audit", "--json")
    assert as_json.exit_code == 1
    report = json.loads(as_json.stdout)
    assert report["ok"] is False and report["size"] == 3 and report["problems"]


def test_log_prove_prints_a_proof_that_verifies(cli: Cli, tmp_path: Path) -> None:
    poems = [write(tmp_path / f"p{n}.txt", f"Short poem {n},\nend.\n") for n in range(5)]
    for poem in poems:
        register(cli, poem)
    verifier = parse_verifier_key(public_key(cli))
    checkpoint = open_checkpoint(cli("log", "checkpoint").stdout, verifier)
    assert checkpoint.size == 5

    result = cli("log", "prove", "--index", "2", "--json")
    assert result.exit_code == 0, result.output
    proof = json.loads(result.stdout)
    assert (proof["log_index"], proof["tree_size"]) == (2, 5)
    certificate = Bundle.parse((tmp_path / "p2.txt.hallmark.json").read_bytes()).certificate
    leaf = merkle.leaf_hash(leaf_input(certificate.body))
    assert base64.b64decode(proof["leaf_hash"]) == leaf
    assert base64.b64decode(proof["root_hash"]) == checkpoint.root_hash
    merkle.verify_inclusion(
        leaf, 2, 5, [base64.b64decode(h) for h in proof["hashes"]], checkpoint.root_hash
    )
    assert open_checkpoint(proof["checkpoint"], verifier) == checkpoint

    older = cli("log", "prove", "--index", "1", "--size", "3")
    assert older.exit_code == 0 and "proof verified" in older.stdout
    beyond = cli("log", "prove", "--index", "7")
    assert beyond.exit_code == 2 and "Error:" in beyond.stderr


def test_log_consistency_prints_a_proof_that_verifies(cli: Cli, tmp_path: Path) -> None:
    for n in range(6):
        register(cli, write(tmp_path / f"p{n}.txt", f"Another poem {n},\nover.\n"))
        if n == 2:
            verifier = parse_verifier_key(public_key(cli))
            old = open_checkpoint(cli("log", "checkpoint").stdout, verifier)
    new = open_checkpoint(cli("log", "checkpoint").stdout, verifier)
    result = cli("log", "consistency", "--old", "3", "--new", "6", "--json")
    assert result.exit_code == 0, result.output
    proof = json.loads(result.stdout)
    assert base64.b64decode(proof["old_root"]) == old.root_hash
    assert base64.b64decode(proof["new_root"]) == new.root_hash
    merkle.verify_consistency(
        3, 6, old.root_hash, new.root_hash, [base64.b64decode(h) for h in proof["hashes"]]
    )
    default_new = cli("log", "consistency", "--old", "1")
    assert default_new.exit_code == 0 and "6 entries extends" in default_new.stdout
    backwards = cli("log", "consistency", "--old", "6", "--new", "2")
    assert backwards.exit_code == 2


def test_log_checkpoint_on_an_empty_log(cli: Cli) -> None:
    result = cli("log", "checkpoint")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1] == "0"


# accounts -------------------------------------------------------------------------------------


def test_user_add_and_token_create(cli: Cli, opened: Instance) -> None:
    added = cli(
        "user", "add", "rhea", "--role", "reviewer", "--password-stdin", input="a long passphrase\n"
    )
    assert added.exit_code == 0, added.output
    assert "Created reviewer 'rhea'." in added.stdout
    token = cli("token", "create", "rhea")
    assert token.exit_code == 0, token.output
    assert token.stdout.count("\n") == 1 and token.stdout.startswith("hm_")
    with opened.db.session() as session:
        assert accounts.user_for_token(session, token.stdout.strip()).handle == "rhea"
    user = accounts.authenticate(opened, "rhea", "a long passphrase")
    assert user.role == "reviewer"


def test_user_add_refuses_bad_requests(cli: Cli) -> None:
    assert cli("user", "add", "solo").exit_code == 0
    taken = cli("user", "add", "solo")
    assert taken.exit_code == 2 and "taken" in taken.stderr
    empty = cli("user", "add", "quiet", "--password-stdin", input="")
    assert empty.exit_code == 2 and "stdin held no password" in empty.stderr
    short = cli("user", "add", "brief", "--password-stdin", input="short\n")
    assert short.exit_code == 2 and "at least" in short.stderr
    assert cli("user", "add", "who", "--role", "emperor").exit_code == 2
    assert cli("token", "create", "nobody").exit_code == 2


# register --stage (issue #3, item 7) -----------------------------------------------------------


def test_register_with_stages_attaches_them_in_order(
    cli: Cli, opened: Instance, tmp_path: Path
) -> None:
    from hallmark.services.stages import progression

    first = write(tmp_path / "v1.txt", "Lanterns on the pier\n")
    second = write(tmp_path / "v2.txt", "Lanterns on the pier\nblink out\n")
    poem = write(tmp_path / "pier.txt", POEM)
    document = register(cli, poem, "--stage", str(first), "--stage", str(second))
    assert document["stages"] == 2
    seen = progression(opened, document["work_id"], None)
    assert [s["size"] for s in seen["stages"]] == [first.stat().st_size, second.stat().st_size]
    evidence = bundle_of(poem)["certificate"]["evidence"]
    assert seen["evidence"] in evidence


def test_register_refuses_a_bad_stage_and_stores_nothing(
    cli: Cli, opened: Instance, tmp_path: Path
) -> None:
    from sqlalchemy import select

    from hallmark.storage.models import Work, WorkStage

    poem = write(tmp_path / "pier.txt", POEM)
    binary = write(tmp_path / "draft.bin", b"\xff\xfe\x00 not text")
    result = cli(*register_args(poem, "--stage", str(binary)))
    assert result.exit_code == 2
    assert "Stage 1 (draft.bin): The text is not valid UTF-8" in result.stderr
    missing = cli(*register_args(poem, "--stage", str(tmp_path / "nope.txt")))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    assert not poem.with_name("pier.txt.hallmark.json").exists()
    with opened.db.session() as session:
        assert session.scalars(select(Work)).first() is None
        assert session.scalars(select(WorkStage)).first() is None


# serve ----------------------------------------------------------------------------------------


def test_serve_demo_seeds_once_and_runs_the_app(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[dict[str, Any]] = []

    def fake_run(application: Any, **options: Any) -> None:
        served.append({"app": application, **options})

    monkeypatch.setattr("uvicorn.run", fake_run)
    first = cli("serve", "--demo", "--port", "8123")
    assert first.exit_code == 0, first.output
    from hallmark.services import demo

    assert f"Seeded {len(demo.demo_works())} demo works." in first.stdout
    assert "handle demo, password hallmark-demo" in first.stdout
    assert served[0]["port"] == 8123 and served[0]["host"] == "127.0.0.1"
    assert hasattr(served[0]["app"], "router")

    second = cli("serve", "--demo")
    assert second.exit_code == 0, second.output
    assert "Seeded" not in second.stdout
    assert "handle demo" in second.stdout


def test_serve_demo_is_refused_in_production(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALLMARK_MODE", "production")
    monkeypatch.setenv("HALLMARK_SECRET_KEY", "x" * 40)
    result = cli("serve", "--demo")
    assert result.exit_code == 2
    assert "refused in production" in result.stderr


def test_register_with_analyze_runs_the_detectors_and_writes_the_final_bundle(
    cli: Cli, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    # Only the metadata detector: fast, and no language model to load.
    monkeypatch.setenv("HALLMARK_DETECTORS", '["image-metadata"]')
    clean, marked = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(clean, "PNG")
    info = PngInfo()
    info.add_text("parameters", "a harbour at dawn\nSteps: 30, Sampler: Euler a, CFG scale: 7")
    Image.new("RGB", (64, 48), "navy").save(marked, "PNG", pnginfo=info)

    calm = write(tmp_path / "calm.png", clean.getvalue())
    result = cli(
        "register",
        str(calm),
        "--title",
        "Calm",
        "--creator",
        "ines",
        "--declare",
        "human-made",
        "--analyze",
        "--json",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["analysis"]["status"] == "done"
    assert doc["analysis"]["findings"][0]["verdict"] == "inconclusive"
    assert doc["level"] == "declared" and doc["analysis"]["review_status"] == "none"

    made = write(tmp_path / "made.png", marked.getvalue())
    result = cli(
        "register",
        str(made),
        "--title",
        "Made",
        "--creator",
        "ines",
        "--declare",
        "human-made",
        "--analyze",
        "--json",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["analysis"]["findings"][0]["verdict"] == "contradicts"
    assert doc["analysis"]["review_status"] == "pending"
    # The bundle on disk is the one of the work's current certificate, and it verifies.
    verified = cli("verify", str(made), "--json")
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["certificate_id"] == doc["certificate_id"]
