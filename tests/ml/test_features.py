"""The batch hasher gives exactly the features of the scikit-learn reference (HashingVectorizer)."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils import murmurhash3_32

from scanner.ml.features import BatchHasher, FeatureParams, murmur_ranges, reference_features

P = FeatureParams()
TEXTS = [
    "Premium Shortfill 100ml 0mg E-Juice 70VG/30PG",
    "", "a", "ab", "  \n\n\t  ", "tab\there  and\n\nnewlines   x",
    "电子烟烟油 尼古丁盐 30ml", "Кamagra oral jelly 100mg", "s\u200bi\u200bl\u200bd\u200be\u200bn\u200ba\u200bf\u200bi\u200bl",
    "İstanbul ΣΑΣ ß Ǆ émoji 🚀🚀 end", "x" * 300 + " " + "long_token_" * 20, "سيجارة إلكترونية", "หน้าไม้ล่าสัตว์", "a_b c-d e.f 12 3",
]


def assert_same(texts, params=P):
    ref = reference_features(params).transform(texts)
    fast = BatchHasher(params).transform(texts)
    assert fast.shape == ref.shape
    assert abs(fast - ref).max() < 1e-12 if ref.nnz or fast.nnz else True
    assert fast.nnz == ref.nnz


def test_same_features_as_hashing_vectorizer():
    assert_same(TEXTS)


def test_same_features_one_text_at_a_time_and_in_a_batch():
    batch = BatchHasher(P).transform(TEXTS)
    for i, t in enumerate(TEXTS):
        assert abs(BatchHasher(P).transform([t]) - batch[i]).max() < 1e-12 if batch[i].nnz else True


def test_other_parameters_still_match():
    assert_same(TEXTS, FeatureParams(char_ngrams=(2, 6), word_ngrams=(1, 3), char_bits=10, word_bits=12))


def test_murmur_matches_sklearn_on_every_length():
    data = "abcdefghijklmnopqrstuvwxyz0123456789é电".encode()
    buf = np.frombuffer(data + b"\0" * 8, dtype=np.uint8)
    starts = np.array([0] * (len(data) + 1) + [3] * (len(data) - 2))
    lengths = np.array(list(range(len(data) + 1)) + list(range(len(data) - 2)))
    got = murmur_ranges(buf, starts, lengths)
    want = [murmurhash3_32(data[s:s + n], seed=0) for s, n in zip(starts, lengths)]
    assert got.tolist() == want


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=80), min_size=1, max_size=6))
def test_random_text_matches(texts):
    texts = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]  # lone surrogates are not text
    assert_same(texts)
