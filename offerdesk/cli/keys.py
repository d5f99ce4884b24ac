"""`offerdesk keys`: the keyring that encrypts every payload."""

from __future__ import annotations

import typer

from offerdesk.cli.common import fail, load_settings, out
from offerdesk.converter import Keyring, KeyringError, ensure_keyring

keys_app = typer.Typer(help="The keyring that encrypts every payload in Temporal.", no_args_is_help=True)


# ---- the keyring --------------------------------------------------------------------------------


@keys_app.command("init")
def keys_init() -> None:
    """Make a keyring at OFFERDESK_KEYS_FILE (for a cluster; 'offerdesk up' makes one for the embedded server)."""
    settings = load_settings()
    if not ensure_keyring(settings.keys_file):
        raise fail(f"a keyring exists at {settings.keys_file} already; 'offerdesk keys rotate' adds a key", 1)
    out.print(f"Made a keyring at {settings.keys_file}; copy it to every worker, portal and CLI user, and back it up.")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new key and make it current; payloads written with the older keys still decrypt."""
    settings = load_settings()
    try:
        keyring = Keyring.load(settings.keys_file).rotated()
    except KeyringError as e:
        raise fail(str(e), 2) from None
    keyring.save(settings.keys_file)
    out.print(
        f"Key {keyring.current} is current now ({len(keyring.keys)} keys in {settings.keys_file}). Copy the file to "
        "every worker, portal and CLI user, then restart them; keep the old keys as long as old offers exist."
    )


@keys_app.command("list")
def keys_list() -> None:
    """The key ids in the keyring and which is current (never the keys)."""
    settings = load_settings()
    try:
        keyring = Keyring.load(settings.keys_file)
    except KeyringError as e:
        raise fail(str(e), 2) from None
    for key_id in keyring.keys:
        out.print(f"{key_id}{'  (current)' if key_id == keyring.current else ''}")
