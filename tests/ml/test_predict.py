"""Classifiers.predict (hashed features + stacked linear models) equals the stock Pipelines'
predict_proba, on the committed models and realistic multilingual listings, one at a time and
in batches of every size the runtime treats differently."""
from pathlib import Path

import numpy as np

from scanner.ml import listing_text

from .test_features import MULTILINGUAL, TEXTS

REPO = Path(__file__).resolve().parents[2]

LISTINGS = [
    {"title": "厂家直销 电子烟 一次性 6000口 Disposable Vape Pen 💨",
     "description": "<p>Mango ice &amp; grape, 20mg nic salt 电子烟烟油 &nbsp; 尼古丁盐</p><br/>OEM&#8482; welcome",
     "attributes": {"Flavour": "Mango Ice", "Puffs": "6000"}},
    {"title": "Crème énergisante pour homme – effet longue durée 💪",
     "description": "Améliore la performance, <b>sans ordonnance</b>. Livraison discrète en 24h.",
     "keywords": ["homme", "énergie"]},
    {"title": "Нож выкидной автоматический, клинок 9 см",
     "description": "Тактический складной нож &laquo;Сокол&raquo; с кнопкой, сталь 440C",
     "attributes": {"Материал": "сталь"}},
    {"title": "Pulsioxímetro de dedo SpO2 — certificado CE ✅",
     "description": "Medidor de oxígeno en sangre, pantalla OLED, para uso doméstico y hospitalario."},
    {"title": "Cotton T-shirt for men, size XL", "description": "100% cotton, 12 colours \n\n  MOQ 50 pcs."},
]




def texts() -> list[str]:
    clean = [t.encode("utf-8", "replace").decode("utf-8") for t in TEXTS + MULTILINGUAL]  # the Pipelines cannot encode surrogates
    return [listing_text(x) for x in LISTINGS] + clean


def stock(clf, batch):
    return np.column_stack([clf.pipelines[f].predict_proba(batch)[:, 1] for f in clf.families])


def test_predict_equals_the_pipelines_on_multilingual_listings(clf):
    all_ = texts()
    many = (all_ * 3)[:70]  # more rows than a batch of 64
    for batch in ([all_[0]], all_[:3], all_[:5], all_, many):
        got = clf.predict(batch)
        assert got.shape == (len(batch), len(clf.families))
        np.testing.assert_allclose(got, stock(clf, batch), rtol=0, atol=1e-9)


def test_one_at_a_time_equals_the_batch(clf):
    all_ = texts()
    batch = clf.predict(all_)
    one = np.vstack([clf.predict([t]) for t in all_])
    np.testing.assert_allclose(one, batch, rtol=0, atol=1e-12)


def test_the_listings_are_told_apart(clf):
    """Not only equal to the Pipelines: the probabilities mean something (the vape listing is
    the likeliest e-cigarette, the T-shirt nothing in particular)."""
    p = clf.predict([listing_text(x) for x in LISTINGS])
    fam = clf.families.index("e_cigarette")
    assert p[:, fam].argmax() == 0
    assert p[4].max() < 0.5
