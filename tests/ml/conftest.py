import random
from pathlib import Path

import pytest

from scanner.ml import load_classifiers, train
from scanner.ml.corpus import FAMILIES
from scanner.ml.features import FeatureParams

REPO = Path(__file__).resolve().parents[2]

POS = {
    "e_cigarette": ["salt nic {n}mg mango ice pod juice", "disposable {n}00 puffs grape device", "short fill {n}0ml 70/30 custard"],
    "sexual_health": ["herbal capsules keeps him going all night {n}", "stay hard for hours coffee for men {n}", "delay spray last longer in bed {n}ml"],
    "controlled_instrument": ["spring assisted tactical folder {n} in overall", "police cuffs double lock steel {n}", "telescopic defense baton {n} inch"],
    "medical_device": ["colored contact lenses yearly {n} pairs", "fingertip pulse oximeter spo2 {n}", "home ventilator non invasive {n}"],
}
NEG = ["cotton t-shirt for men size {n}", "kitchen chef knife {n} inch", "crossbody bag leather {n}", "pepper grinder wooden {n}",
       "ultrasonic humidifier {n}l", "multivitamin tablets {n} count", "ultra thin condoms {n} pcs", "phone case silicone {n}",
       "vapor barrier film {n}m", "dog training collar {n}", "recurve archery bow {n} lbs", "long lasting lipstick shade {n}"]


def tiny_rows(seed: int = 1, n: int = 40) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for fam, templates in POS.items():
        for _ in range(n):
            rows.append({"text": rng.choice(templates).format(n=rng.randrange(1, 99)),
                         "labels": {f: int(f == fam) for f in FAMILIES}, "provenance": f"test:{fam}"})
    for _ in range(4 * n):
        rows.append({"text": rng.choice(NEG).format(n=rng.randrange(1, 99)),
                     "labels": dict.fromkeys(FAMILIES, 0), "provenance": "test:negative"})
    return rows


@pytest.fixture()
def make_rows():
    return tiny_rows


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> tuple[Path, str]:
    """A models directory with one small trained version made current."""
    models = tmp_path_factory.mktemp("models")
    small = FeatureParams(char_bits=12, word_bits=12)  # small and fast; the hasher is tested at full size
    clf, _ = train.train(tiny_rows(), models, small, log=lambda *a: None)
    train.make_current(models, clf.version)
    return models, clf.version


@pytest.fixture(scope="module")
def clf():
    """The committed models (skipped when there are none)."""
    c = load_classifiers(REPO / "models")
    if c is None:
        pytest.skip("no committed models")
    return c
