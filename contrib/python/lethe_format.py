"""Lethe's sealed formats, from docs/formats.md alone: a reference implementation in Python.

Seals and opens envelopes (binary and text form, versions 1 and 2), wraps and unwraps customers' data keys, and
computes blind indexes of phone numbers, so that an application in another language can write, find and read
personal data in exactly Lethe's form. Needs the `cryptography` package (and `phonenumbers` for `normalise`).
"""

import base64
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"LTH"
VERSION = 2
READABLE_VERSIONS = (1, 2)
HEADER_SIZE = 3 + 1 + 8 + 12
TAG_SIZE = 16


def derive_key(root: bytes, purpose: str) -> bytes:
    """A key derived from the keyring's root secret: HKDF-SHA256, salt `lethe keyring v1`, info the purpose
    (`blind index v1`, `backup v1`, `subject tombstone v1`, `ledger v1`), 32 bytes."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"lethe keyring v1", info=purpose.encode()).derive(root)


def associated_data(version: int, key_id: int, table: str, column: str, customer: int, row: int) -> bytes:
    """`lethe envelope|v2|key=K|TABLE|COLUMN|customer=C|row=R` (version 1 binds no row)."""
    text = f"lethe envelope|v{version}|key={key_id}|{table}|{column}|customer={customer}"
    if version >= 2:
        text += f"|row={row}"
    return text.encode()


def seal(plaintext: bytes, data_key: bytes, key_id: int, table: str, column: str, customer: int, row: int,
         version: int = VERSION, nonce: bytes = None) -> bytes:
    """The binary envelope: `LTH` . version . key id (8 bytes, big-endian) . nonce (12) . AES-256-GCM ciphertext . tag."""
    nonce = nonce if nonce is not None else os.urandom(12)
    ad = associated_data(version, key_id, table, column, customer, row)
    return MAGIC + bytes([version]) + struct.pack(">q", key_id) + nonce + AESGCM(data_key).encrypt(nonce, plaintext, ad)


def text_form(envelope: bytes) -> str:
    """`lethe:v2:` then the binary envelope in standard base64 with padding (for text and varchar columns)."""
    return f"lethe:v{envelope[3]}:" + base64.b64encode(envelope).decode()


def binary_form(stored) -> bytes:
    """The binary envelope of a stored value in either form; ValueError when it has neither shape."""
    if isinstance(stored, str):
        stored = stored.encode()
    if stored.startswith(b"lethe:v"):
        prefix, _, body = stored.partition(b":")[2].partition(b":")
        envelope = base64.b64decode(body, validate=True)
        if prefix != b"v%d" % envelope[3]:
            raise ValueError("the text form's version is not the envelope's own")
        stored = envelope
    if len(stored) < HEADER_SIZE + TAG_SIZE or stored[:3] != MAGIC or stored[3] not in READABLE_VERSIONS:
        raise ValueError("not a Lethe envelope")
    return stored


def key_id(stored) -> int:
    """The id of the data key (in lethe.customer_keys) a value is sealed under."""
    return struct.unpack(">q", binary_form(stored)[4:12])[0]


def open_envelope(stored, data_key: bytes, table: str, column: str, customer: int, row: int) -> bytes:
    """The plaintext; raises cryptography's InvalidTag when the value does not open in this row, column, table and
    customer (or under this key)."""
    envelope = binary_form(stored)
    version, kid, nonce = envelope[3], struct.unpack(">q", envelope[4:12])[0], envelope[12:24]
    ad = associated_data(version, kid, table, column, customer, row)
    return AESGCM(data_key).decrypt(nonce, envelope[HEADER_SIZE:], ad)


def wrap_context(customer: int, key_id: int, kek_id: int) -> bytes:
    return f"lethe data key v1|customer={customer}|key={key_id}|kek={kek_id}".encode()


def wrap_data_key(data_key: bytes, kek: bytes, customer: int, key_id: int, kek_id: int, nonce: bytes = None) -> bytes:
    """`lethe.customer_keys.wrapped`: nonce (12) . AES-256-GCM(KEK, data key) . tag."""
    nonce = nonce if nonce is not None else os.urandom(12)
    return nonce + AESGCM(kek).encrypt(nonce, data_key, wrap_context(customer, key_id, kek_id))


def unwrap_data_key(wrapped: bytes, kek: bytes, customer: int, key_id: int, kek_id: int) -> bytes:
    return AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], wrap_context(customer, key_id, kek_id))


def blind_index(index_key: bytes, e164: str, bits: int = 32) -> bytes:
    """HMAC-SHA256 of the E.164 number (UTF-8) under the blind-index key, cut to its first `bits` bits (the spare
    low bits of the last byte zeroed): a shorter index of a number is a prefix of a longer one."""
    tag = bytearray(hmac.new(index_key, e164.encode(), hashlib.sha256).digest()[: (bits + 7) // 8])
    spare = len(tag) * 8 - bits
    if spare:
        tag[-1] &= (0xFF << spare) & 0xFF
    return bytes(tag)


def normalise(written: str, region: str) -> str:
    """A phone number as written, in E.164, as Lethe's intake, lookups and erasure normalise it (libphonenumber)."""
    import phonenumbers

    number = phonenumbers.parse(written, region)
    if not phonenumbers.is_possible_number(number):
        raise ValueError("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
