"""Hashed character and word n-grams, computed for a whole batch at once with numpy.

`reference_features()` is the scikit-learn definition the models are trained and saved
with: a FeatureUnion of two HashingVectorizers (char 3-5 and word 1-2 n-grams, each
l2-normalised). `BatchHasher.transform` produces the same sparse matrix — tested
against the reference — but instead of one Python call per n-gram it hashes every
n-gram of a batch with a vectorised MurmurHash3 (x86, 32 bit, seed 0: the hash
scikit-learn uses) over the UTF-8 bytes of the batch.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.pipeline import FeatureUnion

_WS_RUN = re.compile(r"\s\s+")  # what HashingVectorizer collapses before char n-grams
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # HashingVectorizer's default token pattern

_C1, _C2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)
_TAIL_MASK = np.array([0, 0xFF, 0xFFFF, 0xFFFFFF], dtype=np.uint32)
_ASCII_WORD = np.array([chr(i).isalnum() or chr(i) == "_" for i in range(128)])


@dataclass(frozen=True)
class FeatureParams:
    char_ngrams: tuple[int, int] = (3, 5)
    word_ngrams: tuple[int, int] = (1, 2)
    char_bits: int = 18
    word_bits: int = 18

    @property
    def n_features(self) -> int:
        return (1 << self.char_bits) + (1 << self.word_bits)


def reference_features(p: FeatureParams) -> FeatureUnion:
    """The scikit-learn feature step of every saved Pipeline (stateless)."""
    return FeatureUnion([
        ("char", HashingVectorizer(analyzer="char", ngram_range=p.char_ngrams, n_features=1 << p.char_bits)),
        ("word", HashingVectorizer(analyzer="word", ngram_range=p.word_ngrams, n_features=1 << p.word_bits)),
    ])


def clean(text: str) -> str:
    """Lower-case as HashingVectorizer does; lone surrogates (not UTF-8 encodable) become U+FFFD."""
    text = text.lower()
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8") if _has_surrogate(text) else text
    return text


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def _mix_k(k: np.ndarray) -> np.ndarray:
    k = k * _C1
    k = _rotl(k, 15)
    return k * _C2


def _words(buf: np.ndarray) -> np.ndarray:
    """uint32 little-endian word starting at every byte of buf (buf ends with at least 4 zero bytes).

    Four strided copies (one per byte offset mod 4) of aligned uint32 views."""
    n = len(buf) - 3
    out = np.empty(n, dtype=np.uint32)
    for r in range(4):
        dst = out[r::4]
        seg = buf[r: r + 4 * len(dst)]
        if len(seg) < 4 * len(dst):
            seg = np.concatenate((seg, np.zeros(4 * len(dst) - len(seg), np.uint8)))
        dst[:] = seg.view("<u4")
    return out


def murmur_ranges(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """MurmurHash3_x86_32 (seed 0) of buf[s:s+l] for every (s, l); buf must end with 4 zero bytes."""
    words = _words(buf)
    mixed = _mix_k(words)
    nblocks = lengths >> 2
    presorted = bool(np.all(nblocks[:-1] >= nblocks[1:]))
    order = None if presorted else np.argsort(-nblocks, kind="stable")
    s, nb = (starts, nblocks) if presorted else (starts[order], nblocks[order])
    h = np.zeros(len(s), dtype=np.uint32)
    counts = np.bincount(nb, minlength=1)
    active = len(s) - np.cumsum(counts)  # active[k] = how many have more than k blocks
    for k in range(len(counts) - 1):
        m = int(active[k])
        hk = h[:m] ^ mixed[s[:m] + 4 * k]
        hk = _rotl(hk, 13)
        h[:m] = hk * np.uint32(5) + np.uint32(0xE6546B64)
    if presorted:
        h_out = h
    else:
        h_out = np.empty_like(h)
        h_out[order] = h
    tail = words[starts + 4 * nblocks] & _TAIL_MASK[lengths & 3]
    h = h_out ^ _mix_k(tail)
    return _fmix(h, lengths)


def _index_sign(h: np.ndarray, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's column (abs(h) % n, with abs(-2**31) taken as 0) and sign (h >= 0)."""
    idx = (np.abs(h) & np.int32(n_features - 1)).astype(np.int64)
    return idx, h >= 0


def _is_word_char(cp: np.ndarray) -> np.ndarray:
    out = np.zeros(len(cp), dtype=bool)
    ascii_ = cp < 128
    out[ascii_] = _ASCII_WORD[cp[ascii_]]
    if not ascii_.all():
        other = ~ascii_
        uniq, inv = np.unique(cp[other], return_inverse=True)
        flags = np.array([chr(c).isalnum() for c in uniq.tolist()], dtype=bool)
        out[other] = flags[inv]
    return out


def _ascii_ngram_hashes(buf: np.ndarray, n_pos: int, sizes: range) -> np.ndarray:
    """MurmurHash3 of the n-gram at every byte position, for each size in `sizes` (concatenated
    in that order), for single-byte text.

    All n-grams of one size share their block layout, so each step runs on whole shifted
    slices, and the state after k blocks is shared between sizes."""
    words = _words(buf)
    mixed = _mix_k(words)
    after = {0: np.zeros(n_pos, dtype=np.uint32)}
    out = []
    for n in sizes:
        nb = n >> 2
        for k in range(1, nb + 1):
            if k not in after:
                h = after[k - 1] ^ mixed[4 * (k - 1): 4 * (k - 1) + n_pos]
                h = _rotl(h, 13)
                h *= np.uint32(5)
                h += np.uint32(0xE6546B64)
                after[k] = h
        h = after[nb].copy()
        if n & 3:
            h ^= _mix_k(words[4 * nb: 4 * nb + n_pos] & _TAIL_MASK[n & 3])
        out.append(h)
    return _fmix(np.concatenate(out), np.repeat(np.array(sizes, dtype=np.uint32), n_pos))


def _fmix(h: np.ndarray, length) -> np.ndarray:
    h ^= np.asarray(length).astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h.view(np.int32)


@dataclass
class Batch:
    """The n-grams of a batch: row, hashed column and sign of each; with spans when asked.

    Spans are char offsets into the cleaned, whitespace-collapsed document."""

    rows: np.ndarray
    cols: np.ndarray
    positive: np.ndarray  # the hash's sign: True adds +1, False adds -1
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None


class BatchHasher:
    def __init__(self, params: FeatureParams = FeatureParams()):
        for bits in (params.char_bits, params.word_bits):
            if not 1 <= bits <= 30:
                raise ValueError(f"hash bits must be within 1..30, not {bits}")
        self.p = params
        self.n_char = 1 << params.char_bits
        self.n_word = 1 << params.word_bits

    def ngrams(self, texts: list[str], spans: bool = False) -> Batch:
        docs = [_WS_RUN.sub(" ", clean(t)) for t in texts]
        lens = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
        doc_start = np.concatenate(([0], np.cumsum(lens)))
        joined = "".join(docs)
        n_chars = len(joined)
        lo, hi = self.p.char_ngrams
        pad = b"\0" * (4 * (hi // 4) + 8)
        is_ascii = joined.isascii()
        if is_ascii:
            raw = joined.encode("ascii")
            cp = np.frombuffer(raw, dtype=np.uint8)
            buf = np.frombuffer(raw + pad, dtype=np.uint8)
            boff = None
            hashes = _ascii_ngram_hashes(buf, n_chars, range(hi, lo - 1, -1))
        else:
            cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
            buf = np.frombuffer(joined.encode("utf-8") + pad, dtype=np.uint8)
            blen = 1 + (cp >= 0x80).astype(np.int64) + (cp >= 0x800) + (cp >= 0x10000)
            boff = np.concatenate(([0], np.cumsum(blen)))
        doc_of_char = np.repeat(np.arange(len(docs)), lens)
        pos = np.arange(n_chars, dtype=np.int64)
        doc_end = doc_start[1:][doc_of_char]

        # char n-grams: every start whose n-gram stays inside its document, longest first
        # (so that they come sorted by MurmurHash block count)
        sizes = range(hi, lo - 1, -1)
        ok = np.concatenate([pos + n <= doc_end for n in sizes])
        c_rows = np.tile(doc_of_char, len(sizes))[ok]
        c_start = np.tile(pos, len(sizes))[ok]
        c_end = c_start + np.repeat(np.array(sizes), n_chars)[ok]
        if is_ascii:
            c_hash = hashes[ok]
        else:
            c_hash = murmur_ranges(buf, boff[c_start], boff[c_end] - boff[c_start])
        c_cols, c_pos = _index_sign(c_hash, self.n_char)

        if boff is None:
            boff = np.arange(n_chars + 1, dtype=np.int64)
        w_rows, w_hash, w_start, w_end = self._word_ngrams(cp, buf, boff, doc_of_char, doc_start)
        w_cols, w_pos = _index_sign(w_hash, self.n_word)
        batch = Batch(
            rows=np.concatenate((c_rows, w_rows)),
            cols=np.concatenate((c_cols, w_cols + self.n_char)),
            positive=np.concatenate((c_pos, w_pos)),
        )
        if spans:
            batch.starts = np.concatenate((c_start, w_start)) - doc_start[batch.rows]
            batch.ends = np.concatenate((c_end, w_end)) - doc_start[batch.rows]
        return batch

    def _word_ngrams(self, cp, buf, boff, doc_of_char, doc_start):
        isw = _is_word_char(cp)
        first = np.zeros(len(cp), dtype=bool)
        first[doc_start[:-1][doc_start[:-1] < len(cp)]] = True
        prev = np.concatenate(([False], isw[:-1])) & ~first
        nxt_first = np.concatenate((first[1:], [True]))
        nxt = np.concatenate((isw[1:], [False])) & ~nxt_first
        t_start = np.flatnonzero(isw & ~prev)
        t_end = np.flatnonzero(isw & ~nxt) + 1
        keep = t_end - t_start >= 2
        t_start, t_end = t_start[keep], t_end[keep]
        t_doc = doc_of_char[t_start] if len(t_start) else np.zeros(0, np.int64)
        # tokens joined by one space in a new buffer, so that a bigram is a contiguous range
        b_start, b_len = boff[t_start], boff[t_end] - boff[t_start]
        new_start = np.concatenate(([0], np.cumsum(b_len + 1)[:-1])) if len(b_len) else b_len
        total = int(b_len.sum() + len(b_len))
        src = np.arange(total, dtype=np.int64) + np.repeat(b_start - new_start, b_len + 1)
        jbuf = np.empty(total + 4, dtype=np.uint8)
        jbuf[:total] = buf[np.minimum(src, len(buf) - 1)]
        jbuf[new_start + b_len] = 0x20
        jbuf[total:] = 0
        first_tok, last_tok = [], []
        lo, hi = self.p.word_ngrams
        for n in range(lo, hi + 1):
            if len(t_doc) < n:
                continue
            i = np.flatnonzero(t_doc[n - 1:] == t_doc[: len(t_doc) - n + 1])  # n tokens of one document
            first_tok.append(i)
            last_tok.append(i + n - 1)
        if not first_tok:
            e = np.zeros(0, np.int64)
            return e, np.zeros(0, np.int32), e, e
        i, j = np.concatenate(first_tok), np.concatenate(last_tok)
        hashes = murmur_ranges(jbuf, new_start[i], new_start[j] + b_len[j] - new_start[i])
        return t_doc[i], hashes, t_start[i], t_end[j]

    def cells(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cols, data, indptr) of the normalised feature matrix in CSR layout (rows in order)."""
        b = self.ngrams(texts)
        n, nf = len(texts), self.p.n_features
        shift = nf.bit_length()  # nf is a sum of two powers of two: cols < 2**shift
        dtype = np.int32 if (n << (shift + 1)) < 2**31 else np.int64
        # one sort of (row, col, sign) keys groups repeated n-grams; rows come out in order
        key = (b.rows.astype(dtype) << (shift + 1)) | (b.cols.astype(dtype) << 1) | b.positive
        key.sort()
        cell = key >> 1
        new = np.empty(len(key), dtype=bool)
        new[:1] = True
        np.not_equal(cell[1:], cell[:-1], out=new[1:])
        first = np.flatnonzero(new)
        running = np.concatenate(([0], np.cumsum((key & 1) * 2 - 1)))
        data = np.diff(running[np.append(first, len(key))]).astype(np.float64)
        cell = cell[first]
        rows, cols = cell >> shift, cell & ((1 << shift) - 1)
        indptr = np.searchsorted(rows, np.arange(n + 1))
        # l2-normalise the char block and the word block of every row separately
        slot = rows * 2 + (cols >= self.n_char)
        norm = np.sqrt(np.bincount(slot, weights=data * data, minlength=2 * n))
        norm[norm == 0] = 1.0
        data /= norm[slot]
        return cols, data, indptr

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """The same matrix as reference_features(params).transform(texts)."""
        cols, data, indptr = self.cells(texts)
        return sp.csr_matrix((data, cols, indptr), shape=(len(texts), self.p.n_features))

    def dot(self, texts: list[str], weights: np.ndarray) -> np.ndarray:
        """transform(texts) @ weights, without building the sparse matrix."""
        cols, data, indptr = self.cells(texts)
        out = np.zeros((len(texts), weights.shape[1]))
        if len(cols):
            part = weights[cols] * data[:, None]
            nonempty = indptr[:-1] < indptr[1:]
            out[nonempty] = np.add.reduceat(part, indptr[:-1][nonempty], axis=0)
        return out
