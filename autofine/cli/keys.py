"""`autofine keys generate|id|verify`: a camera's Ed25519 signing key; checking a signed record offline."""

from __future__ import annotations

import os
import re
from pathlib import Path

import typer

from autofine.errors import UserError

app = typer.Typer(help="Camera signing keys (Ed25519) and offline record verification.", no_args_is_help=True)


def default_keys_dir() -> Path:
    base = os.environ.get("AUTOFINE_DATA_DIR") or Path.home() / ".local" / "share" / "autofine"
    return Path(base) / "keys"


@app.command("generate")
def generate(
    camera_id: str = typer.Argument(..., help="Camera id, as in the camera config's camera_id."),
    out: Path | None = typer.Option(
        None, "--out", help="Directory for the key files.", show_default="$AUTOFINE_DATA_DIR/keys"
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing key pair for this camera."),
) -> None:
    """Write <CAMERA_ID>.key.pem (private, mode 0600) and <CAMERA_ID>.pub.pem; print the key id."""
    from autofine.signing import Ed25519Signer, write_keypair

    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", camera_id):
        raise UserError(f"camera id {camera_id!r} must be 1-64 characters of letters, digits, '_', '.', '-'")
    private_path, public_path = write_keypair(camera_id, out or default_keys_dir(), overwrite=force)
    signer = Ed25519Signer(private_path)
    typer.echo(f"private key: {private_path}  (keep it on the camera; set signing_key in its config)")
    typer.echo(f"public key:  {public_path}  (register it at the service)")
    typer.echo(f"key id:      {signer.key_id}")


@app.command("id")
def key_id(public_key: Path = typer.Argument(..., help="Public key PEM file.")) -> None:
    """Print the key id (first 16 hex of sha256 over the raw public key) of a public key file."""
    from autofine.signing import key_id as _key_id
    from autofine.signing import load_public_key

    typer.echo(_key_id(load_public_key(public_key)))


@app.command("verify")
def verify_record(
    record: Path = typer.Argument(..., help="ViolationRecord JSON file."),
    public_key: Path = typer.Option(..., "--public-key", help="The camera's public key PEM."),
    files: Path | None = typer.Option(
        None, "--files", help="Directory holding the evidence files; each is checked against its sha256."
    ),
) -> None:
    """Check a record's signature (with --files, also every evidence file's hash); exit 1 on any failure."""
    from pydantic import ValidationError

    from autofine.contract import ViolationRecord
    from autofine.signing import evidence_hash_mismatches, verify

    if not record.is_file():
        raise UserError(f"record file {record} does not exist")
    if not public_key.is_file():
        raise UserError(f"public key file {public_key} does not exist")
    try:
        parsed = ViolationRecord.model_validate_json(record.read_bytes())
    except ValidationError as exc:
        raise UserError(f"{record} is not a ViolationRecord: {exc.errors()[0]['msg']}") from exc
    ok = verify(parsed, public_key.read_bytes())
    typer.echo(f"signature: {'valid' if ok else 'INVALID'} (key id {parsed.signing_key_id})")
    if files is not None:
        data = {e.name: (files / e.name).read_bytes() for e in parsed.evidence if (files / e.name).is_file()}
        bad = evidence_hash_mismatches(parsed, data)
        for e in parsed.evidence:
            typer.echo(f"{e.name}: {'MISMATCH or missing' if e.name in bad else 'sha256 ok'}")
        ok = ok and not bad
    raise typer.Exit(0 if ok else 1)
