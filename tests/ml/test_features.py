"""The batch hasher gives exactly the features of the scikit-learn reference (HashingVectorizer)."""
import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils import murmurhash3_32

from scanner.ml.features import BatchHasher, FeatureParams, clean, murmur, reference_features

P = FeatureParams()
TEXTS = [
    "Premium Shortfill 100ml 0mg E-Juice 70VG/30PG",
    "", "a", "ab", "  \n\n\t  ", "tab\there  and\n\nnewlines   x",
    "电子烟烟油 尼古丁盐 30ml", "Кamagra oral jelly 100mg", "s\u200bi\u200bl\u200bd\u200be\u200bn\u200ba\u200bf\u200bi\u200bl",
    "İstanbul ΣΑΣ ß Ǆ émoji 🚀🚀 end", "x" * 300 + " " + "long_token_" * 20, "سيجارة إلكترونية", "หน้าไม้ล่าสัตว์", "a_b c-d e.f 12 3",
]
# realistic marketplace text: mixed scripts, accents, emoji, HTML entities left in the text,
# Unicode spaces, long unspaced runs, NULs
MULTILINGUAL = [
    "厂家直销 批发 Heavy Duty Abs Plastic 电子烟烟油 尼古丁盐 30ml \n 厂家直销，质量保证，支持定制logo，欢迎询价。",
    "Crème brûlée café — naïve façade, Ærøskøbing Øl, ŞİŞE İstanbul, Größe XL, ¡Oferta! ½ price",
    "Vape pods 💨🔥 mango ice 😀😀😀 𝐁𝐨𝐥𝐝 𝟏𝟐𝟑 👨‍👩‍👧 🇩🇪 flags",
    "HTML &lt;b&gt;bold&lt;/b&gt; &amp;nbsp; &#8211; &#x2014; R&amp;D team &quot;OEM&quot;",
    "tabs\t\tand\u00a0\u00a0nbsp\u3000\u3000ideographic\u2028line \u1680\u2000 x\u0085y",
    "NUL\0inside\0\0text and \x1c\x1d\x1e\x1f separators",
    "long " + "電子煙油" * 80 + " " + "x" * 200 + "_" * 50 + " ok",
    "ΣΑΣ ΌΣΟΣ σίγμα ΤΕΛΙΚΟΣ",
    "Кamagra oral jelly 100mg — Виагра для мужчин, 10 шт.",
    "सिगरेट ई-लिक्विड ग्लूकोज़ मीटर", "سيجارة إلكترونية ١٢٣", "หน้าไม้ล่าสัตว์ ๑๒๓", "전자담배 액상 30ml",
    "Ｆｕｌｌｗｉｄｔｈ　ＡＢＣ　１２３", "e\u0301 combining a\u0308 marks", "\ud800 lone surrogate \udfff end",
]


def assert_same(texts, params=P):
    ref = reference_features(params).transform(texts)
    fast = BatchHasher(params).transform(texts)
    assert fast.shape == ref.shape
    assert fast.nnz == ref.nnz
    if ref.nnz:
        assert abs(fast - ref).max() < 1e-12


def test_same_features_as_hashing_vectorizer():
    assert_same(TEXTS)


def test_same_features_on_multilingual_text_alone_and_in_mixed_batches():
    texts = [t.encode("utf-8", "replace").decode("utf-8") for t in MULTILINGUAL]  # scikit-learn cannot encode surrogates
    for t in texts:
        assert_same([t])
    ascii_ = ["Stainless steel kitchen knife 8 inch, OEM logo \n\n   MOQ 500 pcs"] * 20
    assert_same(texts + ascii_ + texts[::-1] + TEXTS)  # > 64 rows, ASCII and not


def test_lone_surrogates_become_question_marks():
    assert clean("A\ud800b") == "a?b"
    batch = BatchHasher(P).transform(["a\ud800bcd"])
    assert batch.nnz and abs(batch - reference_features(P).transform(["a?bcd"])).max() == 0


def test_same_features_one_text_at_a_time_and_in_a_batch():
    texts = TEXTS + MULTILINGUAL
    batch = BatchHasher(P).transform(texts)
    for i, t in enumerate(texts):
        one = BatchHasher(P).transform([t])
        assert one.nnz == batch[i].nnz
        if one.nnz:
            assert abs(one - batch[i]).max() < 1e-12


def test_other_parameters_still_match():
    assert_same(TEXTS, FeatureParams(char_ngrams=(2, 6), word_ngrams=(1, 3), char_bits=10, word_bits=12))
    assert_same(TEXTS + MULTILINGUAL[:6], FeatureParams(char_ngrams=(1, 9), word_ngrams=(2, 4), char_bits=14, word_bits=8))


def test_dot_equals_the_matrix_product():
    rng = np.random.default_rng(0)
    hasher = BatchHasher(P)
    texts = TEXTS + MULTILINGUAL
    for k in (1, 3, 8, 9):  # up to 8 columns summed in locals, more in a loop
        weights = rng.normal(size=(P.n_features, k))
        for batch in (texts[:1], texts[:3], texts):
            want = hasher.transform(batch) @ weights
            np.testing.assert_allclose(hasher.dot(batch, weights), want, rtol=1e-12, atol=1e-12)


def test_ngram_spans_hash_to_their_columns():
    """Every n-gram's span, read back from the cleaned text, hashes to the n-gram's column and sign."""
    hasher = BatchHasher(P)
    texts = [t for t in TEXTS + MULTILINGUAL if "\ud800" not in t]
    b = hasher.ngrams(texts, spans=True)
    docs = [re.sub(r"\s\s+", " ", clean(t)) for t in texts]
    for r, c, pos, s, e in zip(b.rows, b.cols, b.positive, b.starts, b.ends):
        piece = docs[r][s:e]
        if c >= hasher.n_char:  # word n-gram: its tokens joined by one space
            piece, n = " ".join(re.findall(r"(?u)\b\w\w+\b", piece)), hasher.n_word
        else:
            n = hasher.n_char
        h = murmurhash3_32(piece.encode("utf-8"), seed=0)
        assert (abs(h) % n + (hasher.n_char if n == hasher.n_word and c >= hasher.n_char else 0), h >= 0) == (c, pos)
    ref = reference_features(P).transform(texts).tocoo()
    assert set(zip(b.rows.tolist(), b.cols.tolist())) == set(zip(ref.row.tolist(), ref.col.tolist()))


def test_murmur_matches_sklearn_on_every_length():
    data = "abcdefghijklmnopqrstuvwxyz0123456789é电".encode()
    for start in (0, 3):
        for end in range(start, len(data) + 1):
            assert murmur(data[start:end]) == murmurhash3_32(data[start:end], seed=0)


def test_murmur_of_random_bytes():
    rng = np.random.default_rng(1)
    for n in rng.integers(0, 400, 200).tolist():
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert murmur(data) == murmurhash3_32(data, seed=0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=80), min_size=1, max_size=6))
def test_random_text_matches(texts):
    texts = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]  # lone surrogates are not text
    assert_same(texts)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("ab 電é🚀_\t\n\u00a0\u3000.-")), max_size=60), min_size=1, max_size=8))
def test_random_text_of_few_characters_matches(texts):
    assert_same(texts)


def test_large_batches_match():
    """Training featurises 2,048 texts at a time."""
    texts = [f"{TEXTS[i % len(TEXTS)]} row {i} {MULTILINGUAL[i % 5][:40]}" for i in range(1100)]
    assert_same(texts)


def test_empty_batch_and_empty_texts():
    hasher = BatchHasher(P)
    assert hasher.transform([]).shape == (0, P.n_features)
    assert hasher.transform(["", "", ""]).nnz == 0
    assert hasher.dot(["", "x"], np.ones((P.n_features, 2))).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert hasher.dot([], np.ones((P.n_features, 2))).shape == (0, 2)
