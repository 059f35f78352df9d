"""Wallet addresses count only when their checksum holds (BIP-173, EIP-55, base58, Monero)."""

from __future__ import annotations

import pytest

from nlp import analyse
from nlp.wallets import (
    base58check_ok,
    bech32_ok,
    eip55_ok,
    find_wallets,
    keccak256,
    monero_ok,
)

# Invented: the keys are the bytes 1..64, not anybody's wallet.
XMR = (
    "41fKjWJQySv2LxFSMtsQ5k3gsHPkECmXt52nKM8ZY8z26NhMJWtsWSA7"
    "icPFuECstJ94XRDHZYFLSAQSTAftscna8JuzEJT"
)


def test_keccak256_is_the_original_keccak_not_sha3() -> None:
    assert keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )


@pytest.mark.parametrize(
    ("address", "valid"),
    [  # BIP-173 and BIP-350 test vectors
        ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", True),
        ("bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3", True),
        ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", True),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", False),  # checksum
        ("bc1qw508d6qejxtdg4y5r3zarvaRy0c5xw7kv8f3t4", False),  # mixed case
        ("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", False),  # testnet
    ],
)
def test_bech32(address: str, valid: bool) -> None:
    assert bech32_ok(address) is valid


@pytest.mark.parametrize(
    ("address", "valid"),
    [  # EIP-55 test vectors
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", True),
        ("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", True),
        ("0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", True),
        ("0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb", True),
        ("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", True),  # one case: no checksum
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", False),
    ],
)
def test_eip55(address: str, valid: bool) -> None:
    assert eip55_ok(address) is valid


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", True),
        ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", True),
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", False),
    ],
)
def test_base58check(address: str, valid: bool) -> None:
    assert base58check_ok(address) is valid


def test_monero() -> None:
    assert monero_ok(XMR)
    assert not monero_ok(XMR[:-1] + ("U" if XMR[-1] != "U" else "V"))


def test_wallets_in_text_become_indicators_with_coin_and_address() -> None:
    text = (
        "BTC: BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4, ETH "
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed or XMR " + XMR + " (not: 0x5aAeb6053F3E94C9"
        "b9A09f33669435E7Ef1BeAeD)"
    )
    wallets = [
        (text[i.start : i.end], i.value) for i in analyse(text).indicators if i.kind == "wallet"
    ]
    assert wallets == [
        (
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            "BTC:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        ),
        (
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "ETH:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        ),
        (XMR, "XMR:" + XMR),
    ]


def test_no_candidate_no_work() -> None:
    assert list(find_wallets("plain text with 12345 and 0xZZ")) == []
