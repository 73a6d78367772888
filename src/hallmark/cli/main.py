"""The ``hallmark`` command line (issue #2, item 6): Typer commands over the services layer.

Exit codes, the same for every command:

- 0: done, or the work is valid;
- 1: the check ran and the answer is "not valid" (a verification, a proof or an audit failed);
- 2: Hallmark could not do what was asked: a usage mistake, an unreadable or malformed input,
  a missing instance, a conflict with what is stored;
- 3: an unexpected internal error (set ``HALLMARK_DEBUG=1`` to see its traceback).

:class:`HallmarkGroup` is the one place that turns errors into a message and one of these
codes (STYLE.md, habit 3); commands simply raise. Modules that need the server extras are
imported inside the commands that use them, so ``hallmark verify --key`` runs on the base
install (DESIGN.md, Architecture).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text
from typer.core import TyperGroup

from hallmark.core.bundle import BUNDLE_SUFFIX, Bundle
from hallmark.core.verify import VerificationResult, verify_bundle
from hallmark.errors import ConfigError, HallmarkError, InputError, ProofError, VerificationError
from hallmark.ledger.note import Verifier, parse_verifier_key

from . import accounts as accounts_cli
from . import analyze as analyze_cli
from . import backup as backup_cli
from . import bench as bench_cli
from . import credentials as credentials_cli
from . import jobs as jobs_cli
from . import log as log_cli
from . import monitor as monitor_cli
from . import similar as similar_cli
from .output import emit_json, emit_text, print_facts, report_error, stdout
from .state import CONFIG_FILE, DEFAULT_HOME, CliState, read_input, state_of

EXIT_NOT_VALID = 1
EXIT_UNUSABLE = 2
EXIT_INTERNAL = 3
DEBUG_ENV = "HALLMARK_DEBUG"


def exit_code_for(error: HallmarkError) -> int:
    """1 when a check answered "not valid", 2 when the request itself could not be served."""
    if isinstance(error, VerificationError | ProofError):
        return EXIT_NOT_VALID
    return EXIT_UNUSABLE


class HallmarkGroup(TyperGroup):
    """The root command group. Its ``invoke`` is the CLI's one error handler."""

    # ``ctx`` is typed loosely because Typer's Context base class lives in its private,
    # vendored copy of Click.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            # Typer's own exits and usage errors already carry their message and code (2).
            raise
        except HallmarkError as exc:
            report_error(exc.detail, exc.hint)
            raise typer.Exit(exit_code_for(exc)) from None
        except Exception as exc:
            if os.environ.get(DEBUG_ENV) == "1":
                raise
            report_error(
                f"Unexpected internal error ({type(exc).__name__}: {exc}).",
                f"Run again with {DEBUG_ENV}=1 to see the traceback, and please report it.",
            )
            raise typer.Exit(EXIT_INTERNAL) from None


app = typer.Typer(
    cls=HallmarkGroup,
    name="hallmark",
    help="Register creative works, certify how they were made, and verify them offline.",
    no_args_is_help=True,
    add_completion=False,
    # Tracebacks are for HALLMARK_DEBUG=1 only; the handler above shows everything else.
    pretty_exceptions_enable=False,
)
app.add_typer(log_cli.app, name="log")
app.add_typer(accounts_cli.user_app, name="user")
app.add_typer(accounts_cli.token_app, name="token")
app.add_typer(bench_cli.app, name="bench")
app.command(name="analyze")(analyze_cli.analyze)
app.command(name="similar")(similar_cli.similar)
app.command(name="reindex")(similar_cli.reindex)
app.command(name="credentials")(credentials_cli.credentials)
app.command(name="jobs")(jobs_cli.jobs)
app.command(name="worker")(jobs_cli.worker)
keys_app = typer.Typer(help="The instance's keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
keys_app.command("c2pa-root")(credentials_cli.c2pa_root)
keys_app.command("witness")(monitor_cli.witness_key)
app.command(name="monitor")(monitor_cli.monitor)
app.command(name="backup")(backup_cli.backup)
app.command(name="restore")(backup_cli.restore)


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar="HALLMARK_HOME",
            help="Instance folder (default: ./.hallmark).",
            show_default=False,
            file_okay=False,
        ),
    ] = None,
) -> None:
    ctx.obj = CliState(home=home or DEFAULT_HOME)


def bundle_path_for(path: Path) -> Path:
    """Where the bundle of ``path`` lives: next to it, e.g. ``poem.txt.hallmark.json``."""
    return path.with_name(path.name + BUNDLE_SUFFIX)


# init ---------------------------------------------------------------------------------------


@app.command()
def init(
    ctx: typer.Context,
    origin: Annotated[
        str | None,
        typer.Option(help="Name of this instance's log, e.g. 'hallmark.example.org/log'."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy URL (default: SQLite file in the instance folder)."),
    ] = None,
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Keep an existing instance instead of failing.")
    ] = False,
) -> None:
    """Create an instance: config, signing key and database."""
    from sqlalchemy.engine import make_url

    from hallmark.services.instance import c2pa_chain_files, init_instance, open_instance

    state = state_of(ctx)
    existed = state.has_instance
    settings = init_instance(
        state.home, origin=origin, database_url=database_url, if_missing=if_missing
    )
    inst = open_instance(settings)
    try:
        vkey = inst.verifier_key
    finally:
        inst.close()
    console = stdout()
    where = settings.home.resolve()
    if existed:
        console.print(Text(f"Kept the existing Hallmark instance in {where}.", style="bold"))
    else:
        console.print(Text(f"Created a Hallmark instance in {where}.", style="bold green"))
    database = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    print_facts(
        console,
        [
            ("config", str(where / CONFIG_FILE)),
            ("signing key", f"{settings.signing_key_path.resolve()} (secret: back it up)"),
            (
                "c2pa root",
                f"{c2pa_chain_files(settings).root_certificate.resolve()} (Content Credentials "
                "trust anchor; see 'hallmark keys c2pa-root')",
            ),
            ("database", database),
            ("log origin", settings.origin),
        ],
    )
    console.print("Verifier key (for 'hallmark verify --key'; see 'hallmark keys public'):")
    emit_text(vkey)


# register -----------------------------------------------------------------------------------


@app.command()
def register(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The work: a UTF-8 text or an image file.")],
    title: Annotated[str, typer.Option(help="Title of the work.")],
    creator: Annotated[str, typer.Option(help="Creator's handle; created if new.")],
    declare: Annotated[
        str, typer.Option(help="Origin label: human-made, ai-assisted or ai-generated.")
    ],
    ai_share: Annotated[
        float | None,
        typer.Option(help="Percent of the work that is AI-generated (ai-assisted only)."),
    ] = None,
    visibility: Annotated[str, typer.Option(help="public, unlisted or private.")] = "public",
    consent: Annotated[
        str | None,
        typer.Option(
            help="AI training: allowed, not-allowed or constrained; default: the creator's "
            "default (not-allowed for a new creator)."
        ),
    ] = None,
    consent_policy_url: Annotated[
        str | None,
        typer.Option(help="With --consent constrained: the http(s) URL of your conditions."),
    ] = None,
    stage: Annotated[
        list[Path] | None,
        typer.Option(
            "--stage",
            metavar="FILE",
            help="An earlier draft of the work; repeat, oldest first. They are recorded as "
            "arriving now.",
        ),
    ] = None,
    analyze: Annotated[
        bool,
        typer.Option(
            "--analyze",
            help="Run the detectors now (the web runs them in the background) and write the "
            "bundle of the certificate they lead to.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Register a local file, certify it, and write its bundle next to it."""
    from hallmark.core.labels import OriginLabel, check_ai_share
    from hallmark.services import consent as consent_rules
    from hallmark.services.accounts import ensure_creator
    from hallmark.services.registry import check_visibility, clean_title
    from hallmark.services.stages import StageUpload, register_with_stages

    state = state_of(ctx)
    data = read_input(path, "file")
    drafts = [StageUpload(read_input(draft, "stage"), draft.name) for draft in stage or []]
    bundle_path = bundle_path_for(path)
    # Check everything cheap before the creator is created and the log grows, so a typo does
    # not leave a half-done registration or a certificate whose bundle cannot be saved.
    check_ai_share(OriginLabel.parse(declare), ai_share)
    check_visibility(visibility)
    consent_rules.parse(consent, consent_policy_url)
    clean_title(title)
    if not os.access(bundle_path.parent, os.W_OK):
        raise InputError(
            f"Cannot write the bundle into {bundle_path.parent}.",
            hint="Register a copy of the file in a folder you can write to.",
        )
    with state.instance() as inst:
        with inst.db.session() as session:
            creator_id = ensure_creator(inst, session, creator).id
        registration = register_with_stages(
            inst,
            creator_id=creator_id,
            stages=drafts,
            data=data,
            title=title,
            declare=declare,
            ai_share=ai_share,
            visibility=visibility,
            filename=path.name,
            consent=consent,
            consent_policy_url=consent_policy_url,
        )
        result = registration.to_json()
        bundle = registration.bundle
        if analyze:
            result["analysis"], bundle = _analyze_registered(inst, registration.work_id)
            result["level"] = bundle["certificate"]["level"]
            result["certificate_id"] = bundle["certificate"]["id"]
    _write_json(bundle_path, bundle)
    if as_json:
        emit_json({**result, "bundle_path": str(bundle_path), "stages": len(drafts)})
        return
    console = stdout()
    console.print(Text(f"Registered {path.name}.", style="bold green"))
    training = registration.consent
    if registration.consent_policy_url:
        training += f", on the conditions of {registration.consent_policy_url}"
    print_facts(
        console,
        [
            ("label", _label_text(registration.label, registration.ai_share)),
            ("level", result["level"]),
            *([("analysis", _analysis_text(result["analysis"]))] if "analysis" in result else []),
            ("work", registration.work_id),
            ("certificate", result["certificate_id"]),
            ("log entry", str(registration.log_index)),
            ("sha256", registration.sha256),
            ("AI training", training),
            ("bundle", str(bundle_path)),
            *([("stages", f"{len(drafts)} drafts, oldest first")] if drafts else []),
        ],
    )


def _analyze_registered(inst: Any, work_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Analyse a just-registered work in this process; return the analysis and the bundle of
    the work's certificate afterwards (a reissue at level "analyzed" replaces the first)."""
    from hallmark.services import analysis
    from hallmark.services.registry import build_bundle
    from hallmark.storage.models import Work

    record = analysis.analyze_now(inst, work_id)
    with inst.db.session() as session:
        work = session.get(Work, work_id)
        record["review_status"] = work.review_status
        return record, build_bundle(session, work.certificate).to_json()


def _analysis_text(record: dict[str, Any]) -> str:
    verdicts = ", ".join(f"{f['detector']}: {f['verdict']}" for f in record.get("findings") or [])
    review = " (sent to review)" if record.get("review_status") == "pending" else ""
    return f"{record.get('status')}; {verdicts or 'no detector applies'}{review}"


def _label_text(label: str, ai_share: Any) -> str:
    if label == "ai-assisted" and isinstance(ai_share, int | float):
        return f"{label} ({ai_share:g}% AI-generated)"
    return label


def _write_json(path: Path, document: dict[str, Any]) -> None:
    # Write to a temporary file and rename, so a crash never leaves half a bundle behind.
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".hallmark-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# verify -------------------------------------------------------------------------------------

_MATCHED = {
    "sha256": "sha256 (the exact bytes)",
    "normalized-text": "normalized text (same words; line endings, spaces or encoding differ)",
}


@app.command()
def verify(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The work to check.")],
    bundle: Annotated[
        Path | None,
        typer.Option(help="The bundle (default: PATH.hallmark.json next to the work)."),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(
            help="File holding the issuer's verifier key (from 'hallmark keys public') "
            "(default: the local instance's key)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Verify a work against its bundle, offline. Exit 0 valid, 1 not valid, 2 unusable input."""
    state = state_of(ctx)
    content = read_input(path, "file")
    bundle_path = bundle or bundle_path_for(path)
    parsed = Bundle.parse(
        read_input(
            bundle_path,
            "bundle",
            hint="Give the bundle with --bundle FILE; 'hallmark register' writes it next to "
            "the work as <file>.hallmark.json.",
        )
    )
    verifier = _read_key(key) if key is not None else None
    if verifier is None and not state.has_instance:
        raise InputError(
            "No key to verify with: give the issuer's verifier key with --key, or --home of "
            "the instance that issued the certificate.",
            hint="The issuer prints its key with 'hallmark keys public'; save it to a file.",
        )
    if verifier is not None and not state.has_instance:
        result = verify_bundle(content, parsed, verifier)
    else:
        result = _verify_with_local_instance(state, content, parsed, verifier)
    if as_json:
        emit_json(result.to_json())
    else:
        _print_verdict(result, key_given=key is not None)
    if not result.valid:
        raise typer.Exit(EXIT_NOT_VALID)


def _read_key(path: Path) -> Verifier:
    raw = read_input(path, "key file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"The key file {path} is not UTF-8 text.") from None
    return parse_verifier_key(text)


def _verify_with_local_instance(
    state: CliState, content: bytes, bundle: Bundle, verifier: Verifier | None
) -> VerificationResult:
    """Verify with the given key (or the instance's), then check the instance's revocations.

    A bundle saved before its certificate was revoked does not say so; the instance that
    issued it does, so it is asked whenever it is at hand.
    """
    try:
        settings = state.settings()
    except ConfigError:
        if verifier is None:
            raise
        # A --key check is offline by design; an unusable local instance must not stop it.
        return verify_bundle(content, bundle, verifier)
    with state.instance(settings) as inst:
        from hallmark.services.verify import apply_revocation

        result = verify_bundle(content, bundle, verifier or inst.verifier)
        apply_revocation(inst, bundle, result)
    return result


def _print_verdict(result: VerificationResult, *, key_given: bool) -> None:
    console = stdout()
    cert = result.certificate or {}
    work = cert.get("work", {})
    if result.valid:
        console.print(Text("VALID", style="bold green"), Text(result.detail))
    else:
        console.print(
            Text("NOT VALID", style="bold red"), Text(f"{result.detail} ({result.reason})")
        )
    rows: list[tuple[str, str]] = []
    if work.get("title"):
        rows.append(("title", str(work["title"])))
    if cert.get("creator", {}).get("handle"):
        rows.append(("creator", str(cert["creator"]["handle"])))
    if cert.get("label"):
        rows.append(("label", _label_text(str(cert["label"]), cert.get("ai_share"))))
    if cert.get("level"):
        rows.append(("level", str(cert["level"])))
    if result.matched:
        rows.append(("matched", _MATCHED.get(result.matched, result.matched)))
    if cert.get("id"):
        issued = f"issued {cert.get('issued_at')} by {cert.get('issuer')}"
        rows.append(("certificate", f"{cert['id']}, {issued}"))
    if result.checkpoint is not None and cert.get("log"):
        rows.append(("log", f"entry {cert['log']['index']} of {result.checkpoint.size}"))
    print_facts(console, rows)
    if result.reason in ("bad-signature", "bad-checkpoint-signature") and not key_given:
        console.print(
            "If the certificate comes from another Hallmark instance, verify with its key: "
            "--key FILE."
        )


# keys, revoke -------------------------------------------------------------------------------


@keys_app.command("public")
def keys_public(ctx: typer.Context) -> None:
    """Print the verifier key, on one line: what 'hallmark verify --key' reads."""
    with state_of(ctx).instance() as inst:
        emit_text(inst.verifier_key)


@app.command()
def revoke(
    ctx: typer.Context,
    certificate_id: Annotated[str, typer.Argument(help="The certificate to revoke.")],
    reason: Annotated[str, typer.Option(help="Why, in a sentence; it is published.")],
) -> None:
    """Revoke a certificate; the revocation is signed and appended to the log."""
    from hallmark.services.registry import revoke as revoke_certificate

    with state_of(ctx).instance() as inst:
        statement = revoke_certificate(
            inst, certificate_id=certificate_id, reason=reason, actor=None
        )
    console = stdout()
    console.print(Text(f"Revoked {statement['certificate_id']}.", style="bold"))
    print_facts(
        console,
        [("reason", str(statement["reason"])), ("log entry", str(statement["log"]["index"]))],
    )


# serve --------------------------------------------------------------------------------------


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="Seed the demo's people and works that are missing.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Web processes sharing the port. More than one wants PostgreSQL, and "
            "rate_limit_store = 'redis' for limits counted across them (docs/deploy.md).",
        ),
    ] = 1,
) -> None:
    """Run the web service (pages and JSON API)."""
    from hallmark.services import demo as demo_service

    state = state_of(ctx)
    settings = state.settings()
    if demo:
        if settings.mode == "production":
            raise ConfigError(
                "--demo creates accounts with a published password; it is refused in "
                "production mode.",
                hint="Seed demo data only on a development instance.",
            )
        console = stdout()
        with state.instance() as inst, console.status("Seeding the demo's history..."):
            # Idempotent: only what is missing is added, so an interrupted seeding resumes.
            seeded = demo_service.seed_demo(inst)
        if seeded:
            console.print(Text(f"Seeded {seeded} demo works.", style="bold green"))
        console.print(
            Text.assemble(
                "Demo login: handle ",
                (demo_service.DEMO_LOGIN, "bold"),
                ", password ",
                (demo_service.DEMO_PASSWORD, "bold"),
                f" (also {', '.join(demo_service.OTHER_CREATORS)}; reviewer "
                f"{demo_service.REVIEWER}).",
            )
        )
    try:
        import uvicorn

        from hallmark.web.app import create_app
    except ImportError as exc:
        raise ConfigError(
            f"The web service cannot be loaded ({exc}).",
            hint="Install the server extras: pip install 'hallmark[server]'.",
        ) from None
    where = f"http://{host}:{port}"
    with state.instance(settings) as inst:
        # Loaded (or rebuilt) before the first request, with a progress bar, rather than by
        # whichever request happens to need it first.
        similar_cli.prepare_index(inst)
        if workers == 1:
            stdout().print(Text(f"Serving on {where} (Ctrl+C stops).", style="bold"))
            uvicorn.run(create_app(settings, instance=inst), host=host, port=port)
            return
        # Each web process loads the saved index and reads what is newer from the database,
        # rather than rebuilding it from scratch.
        from hallmark.services import similarity

        similarity.save(inst)
    if settings.resolved_database_url.startswith("sqlite"):
        stdout().print(
            "Note: several processes share one SQLite file; they take turns writing. "
            "PostgreSQL suits them better (docs/deploy.md)."
        )
    # Each process builds its own app from the instance folder and the HALLMARK_* variables
    # (issue #9, item 2); uvicorn starts them afresh and replaces any that dies.
    os.environ["HALLMARK_HOME"] = str(settings.home.resolve())
    stdout().print(
        Text(f"Serving on {where} with {workers} processes (Ctrl+C stops).", style="bold")
    )
    uvicorn.run(
        "hallmark.web.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
    )


def main() -> None:
    """Console-script entry point (``hallmark``)."""
    app(prog_name="hallmark")
