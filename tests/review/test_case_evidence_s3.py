"""The case page, its captured page and referral packages read evidence from S3 (moto)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from review.app import create_app
from review.referral_check import verify_package
from review.settings import ReviewSettings
from storage.models import Capture
from tests.review.review_testkit import Clock, Seed, parse, signed_in
from tests.review.test_referral import PUBLIC_KEY, approved_case
from tests.s3_server import S3Server, s3, s3_endpoint

__all__ = ["s3", "s3_endpoint"]


def test_the_case_page_capture_and_referral_read_evidence_from_s3(
    factory: sessionmaker[Session],
    seed: Seed,
    settings: ReviewSettings,
    clock: Clock,
    home: Path,
    tmp_path: Path,
    s3: S3Server,
) -> None:
    found = approved_case(factory, home)
    store = s3.store(home)
    store.publish([found.warc_file], fsync=False)
    store.finish(found.warc_file)
    assert not (home / found.warc_file).exists()  # only S3 has it now
    app: Flask = create_app(factory, replace(settings, evidence_store=store), clock=clock)
    legal = signed_in(app, "lee")

    page = parse(legal.get(f"/cases/{found.case_id}"))
    captured = legal.get(f"/cases/{found.case_id}/captures/{found.capture_ids[0]}")
    response = legal.get(f"/cases/{found.case_id}/referral.zip")

    check = page.xpath("string(//p[contains(@class, 'check')])")
    assert "Verified" in check and f"s3://{s3.bucket}" not in check
    assert captured.status_code == 200 and "Carfentanil" in captured.get_data(as_text=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    package = tmp_path / "package.zip"
    package.write_bytes(response.get_data())
    assert verify_package(package, PUBLIC_KEY) == []


def test_a_changed_object_in_s3_is_never_referred(
    factory: sessionmaker[Session],
    seed: Seed,
    settings: ReviewSettings,
    clock: Clock,
    home: Path,
    s3: S3Server,
) -> None:
    found = approved_case(factory, home)
    with factory() as session:
        capture = session.get(Capture, found.capture_ids[0])
        assert capture is not None
        middle = capture.warc_offset + capture.warc_length // 2
    data = bytearray((home / found.warc_file).read_bytes())
    data[middle] ^= 0xFF
    store = s3.store(home)
    store.client.put_object(Bucket=s3.bucket, Key=store.key(found.warc_file), Body=bytes(data))
    app = create_app(factory, replace(settings, evidence_store=store), clock=clock)

    response = signed_in(app, "lee").get(f"/cases/{found.case_id}/referral.zip")

    assert response.status_code == 409 and "be referred" in response.get_data(as_text=True)
