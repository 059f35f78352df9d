"""The near-duplicate measurement (bench.clusters) on a small generated set: a floor to keep."""

from __future__ import annotations

from sqlalchemy import Engine

from bench.clusters import baseline_clusters, generate, measure, pair_score
from storage.db import make_session_factory


def test_the_generator_is_deterministic_and_has_reposts_and_template_siblings() -> None:
    pages = generate(seed=3, offers=25, sites=5)
    assert pages == generate(seed=3, offers=25, sites=5)
    by_offer: dict[int, list[str]] = {}
    for page in pages:
        by_offer.setdefault(page.offer, []).append(page.source_id)
    assert any(len(set(sites)) >= 2 for sites in by_offer.values())  # reposts across sites
    keys: dict[str, set[str]] = {}
    for page in pages:
        keys.setdefault(page.key, set()).add(page.concept)
    assert any(len(concepts) >= 2 for concepts in keys.values())  # one shop, several products


def test_clustering_reaches_its_floor_where_raw_minhash_does_not(engine: Engine) -> None:
    pages = generate(seed=11, offers=30, sites=5)
    score, _seconds = measure(pages, make_session_factory(engine))
    baseline = pair_score(pages, baseline_clusters(pages))
    assert score.true_pairs >= 20
    assert score.precision >= 0.95 and score.recall >= 0.9 and score.f1 >= 0.93, score
    assert baseline.f1 < 0.5 < score.f1, baseline
