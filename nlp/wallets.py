"""Cryptocurrency addresses found in text, kept only when their checksum holds.

Bitcoin: base58check (P2PKH "1...", P2SH "3...") and bech32/bech32m (BIP-173/BIP-350, "bc1...").
Ethereum: "0x" + 40 hex digits; a mixed-case address must pass its EIP-55 checksum (an all-lower
or all-upper one carries none). Monero: 95 characters of Monero's block base58 whose last four
bytes are the Keccak-256 checksum of the rest. A random string passes any of these checks with
a probability of 2^-30 or less, so a hit is an address.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX = {c: i for i, c in enumerate(_BECH32)}
_BECH32_CONST = 1
_BECH32M_CONST = 0x2BC830A3

CANDIDATES = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"(?P<bech>[bB][cC]1[02-9ac-hj-np-zAC-HJ-NP-Z]{6,87})"
    r"|(?P<eth>0x[0-9a-fA-F]{40})"
    r"|(?P<xmr>[48][1-9A-HJ-NP-Za-km-z]{94})"
    r"|(?P<b58>[13][1-9A-HJ-NP-Za-km-z]{25,34})"
    r")(?![0-9A-Za-z])"
)
# Cheap tests before the regex (whose look-behind makes it try every position): every address
# has "bc1", "0x" or a run of 26 base58 characters starting with 1, 3, 4 or 8.
_BASE58_RUN = re.compile(r"[1348][1-9A-HJ-NP-Za-km-z]{25}")


@dataclass(frozen=True, slots=True)
class WalletHit:
    """A valid address: its span in the text, coin ("BTC", "ETH", "XMR") and canonical form."""

    start: int
    end: int
    coin: str
    address: str


def _b58decode(text: str) -> bytes | None:
    number = 0
    for char in text:
        digit = _B58_INDEX.get(char)
        if digit is None:
            return None
        number = number * 58 + digit
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    leading = len(text) - len(text.lstrip("1"))
    return b"\x00" * leading + body


@lru_cache(maxsize=1024)
def base58check_ok(address: str) -> bool:
    """Return whether a Bitcoin base58 address (P2PKH or P2SH) has a valid checksum."""
    raw = _b58decode(address)
    if raw is None or len(raw) != 25 or raw[0] not in (0x00, 0x05):
        return False
    digest = hashlib.sha256(hashlib.sha256(raw[:-4]).digest()).digest()
    return digest[:4] == raw[-4:]


def _bech32_polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            check ^= generator[i] if (top >> i) & 1 else 0
    return check


@lru_cache(maxsize=1024)
def bech32_ok(address: str) -> bool:
    """Return whether a "bc1" address passes bech32 (witness v0) or bech32m (v1+) checks."""
    if address.lower() != address and address.upper() != address:
        return False  # BIP-173: mixed case is invalid
    address = address.lower()
    hrp, _, data_part = address.rpartition("1")
    if hrp != "bc" or len(data_part) < 7 or len(address) > 90:
        return False
    data = [_BECH32_INDEX[c] for c in data_part]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    constant = _bech32_polymod(expanded + data)
    version = data[0]
    if version > 16:
        return False
    program_length = (len(data) - 7) * 5 // 8
    if not 2 <= program_length <= 40 or (version == 0 and program_length not in (20, 32)):
        return False
    return constant == (_BECH32_CONST if version == 0 else _BECH32M_CONST)


_KECCAK_ROUNDS = (
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
)  # fmt: skip
_ROTATIONS = (
    (0, 36, 3, 41, 18), (1, 44, 10, 45, 2), (62, 6, 43, 15, 61), (28, 55, 25, 21, 56),
    (27, 20, 39, 8, 14),
)  # fmt: skip
_MASK = (1 << 64) - 1


def _keccak_f(state: list[list[int]]) -> None:
    for constant in _KECCAK_ROUNDS:
        c = [state[x][0] ^ state[x][1] ^ state[x][2] ^ state[x][3] ^ state[x][4] for x in range(5)]
        d = [
            c[(x - 1) % 5] ^ (((c[(x + 1) % 5] << 1) | (c[(x + 1) % 5] >> 63)) & _MASK)
            for x in range(5)
        ]
        for x in range(5):
            for y in range(5):
                state[x][y] ^= d[x]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                r = _ROTATIONS[x][y]
                value = state[x][y]
                b[y][(2 * x + 3 * y) % 5] = (
                    ((value << r) | (value >> (64 - r))) & _MASK if r else value
                )
        for x in range(5):
            for y in range(5):
                state[x][y] = b[x][y] ^ ((~b[(x + 1) % 5][y]) & b[(x + 2) % 5][y])
        state[0][0] ^= constant


def keccak256(data: bytes) -> bytes:
    """Return the original Keccak-256 digest (Ethereum's and Monero's; not NIST SHA3-256)."""
    rate = 136
    padded = bytearray(data) + b"\x01" + b"\x00" * ((rate - (len(data) + 1) % rate) % rate)
    padded[-1] |= 0x80
    state = [[0] * 5 for _ in range(5)]
    for offset in range(0, len(padded), rate):
        block = padded[offset : offset + rate]
        for i in range(rate // 8):
            x, y = i % 5, i // 5
            state[x][y] ^= int.from_bytes(block[8 * i : 8 * i + 8], "little")
        _keccak_f(state)
    out = b"".join(state[i % 5][i // 5].to_bytes(8, "little") for i in range(4))
    return out


@lru_cache(maxsize=1024)
def eip55_ok(address: str) -> bool:
    """Return whether an "0x" address is all one case or passes its EIP-55 checksum."""
    body = address[2:]
    if body.lower() == body or body.upper() == body:
        return True
    digest = keccak256(body.lower().encode("ascii")).hex()
    return all(
        (c.upper() if int(h, 16) >= 8 else c.lower()) == c
        for c, h in zip(body, digest, strict=False)
    )


def _monero_decode(address: str) -> bytes | None:
    """Decode Monero's base58: 8-byte blocks as 11 characters, the last block shorter."""
    sizes = {0: 0, 2: 1, 3: 2, 5: 3, 6: 4, 7: 5, 9: 6, 10: 7, 11: 8}
    out = bytearray()
    for offset in range(0, len(address), 11):
        chunk = address[offset : offset + 11]
        size = sizes.get(len(chunk))
        if size is None:
            return None
        number = 0
        for char in chunk:
            digit = _B58_INDEX.get(char)
            if digit is None:
                return None
            number = number * 58 + digit
        if number >> (8 * size):
            return None
        out += number.to_bytes(size, "big")
    return bytes(out)


@lru_cache(maxsize=1024)
def monero_ok(address: str) -> bool:
    """Return whether a 95-character Monero address has a valid Keccak checksum."""
    raw = _monero_decode(address)
    if raw is None or len(raw) != 69:
        return False
    return keccak256(raw[:-4])[:4] == raw[-4:]


def find_wallets(text: str) -> Iterator[WalletHit]:
    """Yield the valid cryptocurrency addresses in `text`."""
    if "0x" not in text and "bc1" not in text.lower() and _BASE58_RUN.search(text) is None:
        return
    for match in CANDIDATES.finditer(text):
        start, end = match.span()
        if match["bech"] and bech32_ok(match["bech"]):
            yield WalletHit(start, end, "BTC", match["bech"].lower())
        elif match["eth"] and eip55_ok(match["eth"]):
            yield WalletHit(start, end, "ETH", match["eth"])
        elif match["xmr"] and monero_ok(match["xmr"]):
            yield WalletHit(start, end, "XMR", match["xmr"])
        elif match["b58"] and base58check_ok(match["b58"]):
            yield WalletHit(start, end, "BTC", match["b58"])
