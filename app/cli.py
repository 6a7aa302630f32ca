"""The `mashang` command line: serve, migrate, demo, grids, users and QR posters."""

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from app.config import Settings, SettingsError, get_settings
from app.errors import DomainError

cli = typer.Typer(help="码上办 Mashang: scan-to-report for city grid governance.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
grids_cli = typer.Typer(help="The grid tree (street → community → grid).", no_args_is_help=True)
users_cli = typer.Typer(help="Staff: grid workers, dispatchers, supervisors, departments, admins.",
                        no_args_is_help=True)
qr_cli = typer.Typer(help="QR codes and print-ready posters for basic grids.", no_args_is_help=True)
cli.add_typer(grids_cli, name="grids")
cli.add_typer(users_cli, name="users")
cli.add_typer(qr_cli, name="qr")
push_cli = typer.Typer(help="Web Push for staff browsers.", no_args_is_help=True)
cli.add_typer(push_cli, name="push")


def _fail(message: str, code: int = 1) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        return get_settings()
    except (SettingsError, ValueError) as exc:
        _fail(f"Settings refused: {exc}", 2)
        raise  # unreachable


@cli.command()
def migrate() -> None:
    """Apply database migrations (safe to run from several instances at once)."""
    from app import migrate as migrations

    migrations.upgrade(_settings())
    typer.echo("database is at the latest migration")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default MASHANG_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default MASHANG_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Migrate, then serve the API and pages; the scheduler runs inside, in one process beside the workers."""
    import uvicorn

    from app import migrate as migrations

    # The options are settings too: the app (built in each worker from the environment) must see them, or
    # ack links and QR URLs would name the default port while the server listens on another.
    if host is not None:
        os.environ["MASHANG_HOST"] = host
    if port is not None:
        os.environ["MASHANG_PORT"] = str(port)
    get_settings.cache_clear()
    settings = _settings()
    migrations.upgrade(settings)
    ticker = None
    if settings.scheduler:
        from app.escalation.process import TickerProcess

        # One ticker for all the workers, in a process of its own (see app.escalation.process).
        ticker = TickerProcess()
        os.environ.update(ticker.settings())
        get_settings.cache_clear()
        ticker.start()
    try:
        uvicorn.run("app.main:create_app", factory=True, host=settings.host, port=settings.port,
                    workers=workers, access_log=False, proxy_headers=True, log_level="info")
    finally:
        if ticker is not None:
            ticker.stop()


@cli.command()
def ticker() -> None:
    """Run the scheduler alone: sweep due steps and deliver pages (`mashang serve` starts one itself)."""
    import logging

    from app.escalation import process

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("mashang").setLevel(logging.INFO)  # pages go to the log when no webhook is set
    process.run(_settings())


@cli.command()
def demo() -> None:
    """Load the demo city into an empty database, then print its logins and resident links."""
    from app import demo as demo_city
    from app.config import DEMO_PASSWORD
    from app.db import session_scope

    settings = _settings()
    with session_scope() as session:
        if demo_city.is_empty(session):
            try:
                demo_city.load(session, settings=settings)
            except DomainError as exc:
                _fail(exc.message_en)
            typer.echo("Loaded the demo city (白银区人民路街道).")
        logins, links = demo_city.describe(session, settings=settings)
    if not links:
        typer.echo("The database already holds grids that are not the demo city; nothing loaded.")
        return
    typer.echo(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
    for login in logins:
        typer.echo(f"  {login.phone}  {login.name:<4} {login.role:<10} {login.post}")
    typer.echo("\nResident links (what each grid's QR code opens):")
    for grid in links:
        typer.echo(f"  {grid.code:<14} {grid.name}{'  [vacant: no worker]' if grid.vacant else ''}\n    {grid.url}")


@grids_cli.command("import")
def grids_import(file: Annotated[Path, typer.Argument(help="CSV: code,name,level,parent_code,contact_name,"
                                                            "contact_phone[,backup_name,backup_phone][,office_phone]")]
                 ) -> None:
    """Upsert grids by code from a CSV file; a file with any bad row imports nothing."""
    from app.db import session_scope
    from app.grids.importer import GridFileError, import_grids

    _settings()
    try:
        data = file.read_bytes()
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror}")
    try:
        with session_scope() as session:
            result = import_grids(session, data=data)
    except GridFileError as exc:
        typer.secho(f"{file}: {len(exc.errors)} bad row(s); nothing was imported.", fg=typer.colors.RED, err=True)
        for error in exc.errors:
            typer.echo(f"  {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"grids: {result.created} created, {result.updated} updated, {result.unchanged} unchanged; "
               f"people: {result.people_created} created, {result.people_updated} renamed; "
               f"QR tokens issued: {result.tokens_issued}")
    if result.vacant:
        shown = ", ".join(result.vacant[:10]) + (" …" if len(result.vacant) > 10 else "")
        typer.echo(f"vacant posts (nobody to page; escalation skips them): {len(result.vacant)}: {shown}")


@users_cli.command("add")
def users_add(
    phone: Annotated[str, typer.Option(help="Phone number, as people write it.")],
    name: Annotated[str, typer.Option(help="Full name.")],
    role: Annotated[str, typer.Option(help="worker, dispatcher, supervisor, department or admin.")],
    grid: Annotated[str | None, typer.Option(help="Code of the grid this person holds the post of.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read a password from standard input.")]
    = False,
) -> None:
    """Create a person, or update the one with this phone (name, role, grid, password)."""
    from app.db import session_scope
    from app.people import service as people_service

    _settings()
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            _fail("--password-stdin: no password on standard input")
    try:
        with session_scope() as session:
            person, created = people_service.add_or_update(session, phone=phone, name=name, role=role,
                                                           grid_code=grid, password=password)
            summary = f"{'created' if created else 'updated'} {person.name} {person.phone} ({person.role})"
    except DomainError as exc:
        _fail(f"{exc.field or 'error'}: {exc.message_en}")
    typer.echo(summary + (f", post: {grid}" if grid else ""))


@qr_cli.command("rotate")
def qr_rotate(code: Annotated[str, typer.Argument(help="The basic grid's code.")]) -> None:
    """Give a grid a new QR token; the old poster's link then answers "this code was replaced"."""
    from app.db import session_scope
    from app.grids import service as grid_service

    settings = _settings()
    try:
        with session_scope() as session:
            token = grid_service.rotate_token(session, code=code)
    except DomainError as exc:
        _fail(exc.message_en)
    url = grid_service.grid_url(settings, token)
    typer.echo(f"{code}: new link {url} (print a new poster; the old one now answers 410)")


def _render_png(job: tuple[object, str]) -> None:
    from app.qr.poster import render_png

    poster, path = job
    render_png(poster, Path(path))


@qr_cli.command("export")
def qr_export(
    out: Annotated[Path, typer.Option(help="Directory to write into (created if missing).")],
    under: Annotated[str | None, typer.Option(help="Only grids under this code (any level).")] = None,
    format: Annotated[str, typer.Option(help="png: one file per grid; pdf: one file, a page per grid.")] = "png",
    processes: Annotated[int, typer.Option(help="PNG rendering processes.")] = os.cpu_count() or 1,
) -> None:
    """Write a print-ready poster for every basic grid under a code (all grids without --under)."""
    from app.db import session_scope
    from app.qr import service as qr_service

    settings = _settings()
    if format not in ("png", "pdf"):
        _fail("--format must be png or pdf")
    try:
        with session_scope() as session:
            posters = qr_service.posters_under(session, code=under, settings=settings)
    except DomainError as exc:
        _fail(exc.message_en)
    if not posters:
        _fail(f"no basic grids under {under}" if under else "no basic grids yet: import a grid file first")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail(f"cannot create {out}: {exc.strerror}")
    show = sys.stdout.isatty()
    with Progress(disable=not show, transient=False) as progress:
        task = progress.add_task(f"{len(posters)} posters", total=len(posters))
        if format == "pdf":
            from app.qr.poster import PdfPosterWriter

            target = out / f"{under or 'all'}.pdf"
            with PdfPosterWriter(target, qr_service.charset(posters)) as writer:
                for poster in posters:
                    writer.add(poster)
                    progress.advance(task)
        else:
            target = out
            jobs = [(p, str(qr_service.png_path(out, p))) for p in posters]
            if processes > 1 and len(jobs) > 50:
                with ProcessPoolExecutor(processes) as pool:
                    for _ in pool.map(_render_png, jobs, chunksize=32):
                        progress.advance(task)
            else:
                for job in jobs:
                    _render_png(job)
                    progress.advance(task)
    typer.echo(f"wrote {len(posters)} poster(s) to {target}")


@push_cli.command("keys")
def push_keys() -> None:
    """Make a VAPID key pair; put the two lines it prints in the environment (or .env) of every instance."""
    from app.paging.webpush import new_vapid_keys

    public, private = new_vapid_keys()
    typer.echo(f"MASHANG_VAPID_PUBLIC_KEY={public}\nMASHANG_VAPID_PRIVATE_KEY={private}")


def main() -> None:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        cli()
    except (OperationalError, ProgrammingError) as exc:
        # The usual cause is a database that was never migrated, or one that does not answer.
        typer.secho(f"database error: {exc.orig}", fg=typer.colors.RED, err=True)
        typer.secho("Is MASHANG_DATABASE_URL right, and has `mashang migrate` been run?", err=True)
        sys.exit(1)
