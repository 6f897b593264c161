"""Encryption at rest for a single-school workspace (``auditor init --encrypt``).

What is encrypted, and how:

- The SQLite database, with SQLCipher 4 (through ``sqlcipher3``): every page of the database,
  its write-ahead log and its temporary files. SQLCipher is given a raw 256-bit key, so its own
  (fast) PBKDF2 is not the barrier; ours is.
- Report files (and subject-access exports) written by an encrypted workspace: AES-256-GCM, one
  file each, named with a ``.enc`` suffix; ``auditor decrypt FILE`` reads them back.

Where the key comes from: a passphrase (``AUDITOR_PASSPHRASE``, or asked for when a terminal is
attached) stretched by Argon2id (RFC 9106's second recommended setting: 64 MiB, 3 passes, 4
lanes), a memory-hard KDF, so guessing passphrases on stolen files costs memory as well as
time. The salt and the KDF settings are not secret: they live in a small clear-text sidecar
beside the database (``<database>.kdf.json``) and in each encrypted file's header, so a file can
be decrypted anywhere with the passphrase alone. The key itself is never written anywhere.
Two sub-keys are drawn from the stretched key with HKDF, one for the database and one for files,
so the same bytes never serve two ciphers. The sidecar also holds a short HMAC of the key, only
so that a wrong passphrase is named as such instead of "file is not a database".

PostgreSQL: encryption at rest is the server's job (encrypted disks or TDE); ``--encrypt`` with
a PostgreSQL URL is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from auditor.errors import DatabaseError, InputError

PASSPHRASE_ENV = "AUDITOR_PASSPHRASE"
MIN_PASSPHRASE = 12
SIDECAR_SUFFIX = ".kdf.json"
FILE_SUFFIX = ".enc"
FILE_MAGIC = b"AUDITOR-ENCRYPTED-1\n"
SQLITE_MAGIC = b"SQLite format 3\x00"
KEY_BYTES = 32
NONCE_BYTES = 12

# Argon2id, RFC 9106 section 4 ("second recommended option"): 64 MiB of memory, 3 passes, 4 lanes.
ARGON2 = {"name": "argon2id", "memory_kib": 65536, "iterations": 3, "lanes": 4}
# scrypt where OpenSSL lacks Argon2 (OpenSSL < 3.2): N = 2^17, r = 8, p = 1 (128 MiB).
SCRYPT = {"name": "scrypt", "n": 2 ** 17, "r": 8, "p": 1}


# -- key derivation ----------------------------------------------------------------------
def new_kdf_params() -> dict:
    """Fresh KDF settings with a random 16-byte salt (Argon2id when available, else scrypt)."""
    salt = base64.b64encode(os.urandom(16)).decode()
    try:
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id  # noqa: F401

        _derive(b"probe", json.dumps({**ARGON2, "memory_kib": 8, "iterations": 1, "lanes": 1, "salt": salt}))
        return {**ARGON2, "salt": salt}
    except Exception:  # noqa: BLE001 - no Argon2 in this OpenSSL: scrypt is memory-hard too
        return {**SCRYPT, "salt": salt}


def _check_params(params: dict) -> None:
    name = params.get("name")
    ok = isinstance(params.get("salt"), str)
    if name == "argon2id":
        ok = ok and all(isinstance(params.get(k), int) and params[k] > 0 for k in ("memory_kib", "iterations", "lanes"))
        ok = ok and params["memory_kib"] <= 4 * 1024 * 1024 and params["iterations"] <= 100 and params["lanes"] <= 64
    elif name == "scrypt":
        ok = ok and all(isinstance(params.get(k), int) and params[k] > 0 for k in ("n", "r", "p"))
        ok = ok and params["n"] <= 2 ** 22 and params["r"] <= 32 and params["p"] <= 16
    else:
        ok = False
    if not ok:
        raise InputError("unknown or unsafe key-derivation settings in an encryption header")


@lru_cache(maxsize=8)
def _derive(passphrase: bytes, params_json: str) -> bytes:
    """The stretched master key (cached per process: one CLI command derives it once)."""
    params = json.loads(params_json)
    salt = base64.b64decode(params["salt"])
    if params["name"] == "argon2id":
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

        kdf = Argon2id(salt=salt, length=KEY_BYTES, iterations=params["iterations"], lanes=params["lanes"],
                       memory_cost=params["memory_kib"])
    else:
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        kdf = Scrypt(salt=salt, length=KEY_BYTES, n=params["n"], r=params["r"], p=params["p"])
    return kdf.derive(passphrase)


def _subkey(master: bytes, purpose: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=f"auditor {purpose}".encode()).derive(master)


def _key_check(master: bytes) -> str:
    return hmac.new(master, b"auditor key check", hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class Keys:
    """The two sub-keys of one workspace, and the KDF settings they came from."""

    params: dict
    database: bytes
    files: bytes
    check: str

    @classmethod
    def derive(cls, passphrase: str, params: dict) -> Keys:
        _check_params(params)
        master = _derive(passphrase.encode("utf-8"), json.dumps(params, sort_keys=True))
        return cls(params, _subkey(master, "sqlcipher database"), _subkey(master, "report files"), _key_check(master))

    def sqlcipher_pragma(self) -> str:
        """SQLCipher's raw-key form: the hex key inside x'...', itself in double quotes."""
        return f"PRAGMA key = \"x'{self.database.hex()}'\""


# -- the passphrase ------------------------------------------------------------------------
def passphrase_from_env() -> str | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value if value else None


def check_new_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise InputError(f"the passphrase is too short: use at least {MIN_PASSPHRASE} characters "
                         "(a few unrelated words are easy to remember)")


# -- the database sidecar ------------------------------------------------------------------
def sidecar_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + SIDECAR_SUFFIX)


def is_encrypted(db_path: Path | None) -> bool:
    """True when this SQLite database has encryption settings beside it."""
    return db_path is not None and sidecar_path(db_path).exists()


def _read_sidecar(db_path: Path) -> dict:
    path = sidecar_path(db_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != "auditor-encryption" or data.get("version") != 1:
            raise ValueError
        _check_params(data["kdf"])
        return data
    except (OSError, ValueError, KeyError, TypeError, AttributeError, InputError):
        raise DatabaseError(f"{path.name}: the encryption settings beside the database are unreadable") from None


def _write_sidecar(db_path: Path, keys: Keys) -> None:
    body = {"format": "auditor-encryption", "version": 1, "cipher": "sqlcipher4-raw-key",
            "note": "salt and KDF settings only; the key is derived from the passphrase and never stored",
            "kdf": keys.params, "check": keys.check}
    path = sidecar_path(db_path)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _plain_sqlite(db_path: Path) -> bool:
    """True if the file exists and holds data in clear (SQLite's own header)."""
    try:
        with open(db_path, "rb") as handle:
            head = handle.read(16)
    except FileNotFoundError:
        return False
    return head == SQLITE_MAGIC


def open_keys(db_path: Path, passphrase: str | None, create: bool = False) -> Keys | None:
    """The keys for a SQLite database, or None when it is not encrypted.

    ``create`` (``init --encrypt``) makes new encryption settings for a database that does not
    exist yet (an existing encrypted one is simply opened); an existing clear-text database is
    refused rather than half-converted."""
    exists = db_path.exists() and db_path.stat().st_size > 0
    if create and not exists:
        if passphrase is None:
            raise DatabaseError(f"--encrypt needs a passphrase: set {PASSPHRASE_ENV} or run in a terminal to be asked")
        check_new_passphrase(passphrase)
        keys = Keys.derive(passphrase, new_kdf_params())
        _write_sidecar(db_path, keys)  # replaces any left by an init that stopped before the database
        return keys
    if not is_encrypted(db_path):
        if create:
            raise DatabaseError(f"{db_path.name} already exists in clear; --encrypt creates a new database",
                                hint="choose a new --db path and import the roster and exports again")
        if exists and not _plain_sqlite(db_path):
            raise DatabaseError(f"{db_path.name} is not a readable SQLite database (encrypted, with its "
                                f"{SIDECAR_SUFFIX} file missing, or damaged)")
        return None
    settings = _read_sidecar(db_path)
    if passphrase is None:
        raise DatabaseError(f"{db_path.name} is encrypted: set {PASSPHRASE_ENV} or run in a terminal to be asked "
                            "for the passphrase")
    keys = Keys.derive(passphrase, settings["kdf"])
    if not hmac.compare_digest(keys.check, str(settings.get("check", ""))):
        raise DatabaseError(f"wrong passphrase for the encrypted database {db_path.name}")
    return keys


def sqlcipher_engine_args(db_path: Path, keys: Keys) -> dict:
    """Keyword arguments for ``sqlalchemy.create_engine``: SQLCipher's DB-API module, and a
    connection factory that gives the key before anything is read."""
    try:
        import sqlcipher3.dbapi2 as sqlcipher
    except ImportError:
        raise DatabaseError("this database is encrypted and the sqlcipher3 module is not installed",
                            hint="pip install sqlcipher3-binary") from None
    pragma = keys.sqlcipher_pragma()

    def connect():
        conn = sqlcipher.connect(str(db_path), check_same_thread=False)
        conn.execute("PRAGMA cipher_log_level = NONE")  # errors are ours to word, not printed by the library
        conn.execute(pragma)
        conn.execute("PRAGMA temp_store = MEMORY")
        return conn

    return {"creator": connect, "module": sqlcipher}


# -- encrypted files -----------------------------------------------------------------------
def encrypted_name(path: Path) -> Path:
    return path if path.name.endswith(FILE_SUFFIX) else path.with_name(path.name + FILE_SUFFIX)


def encrypt_bytes(keys: Keys, data: bytes, name: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header = json.dumps({"cipher": "AES-256-GCM", "kdf": keys.params, "subkey": "report files", "name": name},
                        sort_keys=True, ensure_ascii=True).encode() + b"\n"
    nonce = os.urandom(NONCE_BYTES)
    return FILE_MAGIC + header + nonce + AESGCM(keys.files).encrypt(nonce, data, FILE_MAGIC + header)


def write_encrypted(keys: Keys, path: Path, data: bytes) -> Path:
    """Write ``data`` encrypted to ``path`` + ``.enc`` (readable by the owner only); returns
    the path written. Written whole to a temporary name first, so no half file is left."""
    target = encrypted_name(path)
    blob = encrypt_bytes(keys, data, path.name.removesuffix(FILE_SUFFIX))
    temporary = target.with_name(f".{target.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(blob)
    os.replace(temporary, target)
    return target


def is_encrypted_file(data: bytes) -> bool:
    return data.startswith(FILE_MAGIC)


def decrypt_bytes(passphrase: str, blob: bytes, label: str = "file") -> tuple[str, bytes]:
    """(original name, clear bytes) of an encrypted file; one clear error otherwise."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not blob.startswith(FILE_MAGIC):
        raise InputError(f"{label}: not a file encrypted by auditor")
    end = blob.find(b"\n", len(FILE_MAGIC), len(FILE_MAGIC) + 4096)
    if end < 0:
        raise InputError(f"{label}: damaged encryption header")
    header_bytes = blob[len(FILE_MAGIC):end + 1]
    try:
        header = json.loads(header_bytes)
        params, name = header["kdf"], str(header.get("name") or "decrypted")
        if header.get("cipher") != "AES-256-GCM":
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{label}: damaged encryption header") from None
    keys = Keys.derive(passphrase, params)
    body = blob[end + 1:]
    if len(body) < NONCE_BYTES + 16:
        raise InputError(f"{label}: truncated")
    try:
        data = AESGCM(keys.files).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], FILE_MAGIC + header_bytes)
    except InvalidTag:
        raise InputError(f"{label}: wrong passphrase, or the file was changed or damaged") from None
    return Path(name).name, data


def write_output(keys: Keys | None, path: Path, data: bytes) -> Path:
    """Write a file the tool produces (a report, an export for a subject-access request): in
    clear for a clear workspace, encrypted (``.enc``) for an encrypted one. Returns the path."""
    if keys is None:
        path.write_bytes(data)
        return path
    return write_encrypted(keys, path, data)
