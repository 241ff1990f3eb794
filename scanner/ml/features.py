"""Hashed character and word n-grams, computed for a whole batch at once with numpy.

`reference_features()` is the scikit-learn definition the models are trained and saved
with: a FeatureUnion of two HashingVectorizers (char 3-5 and word 1-2 n-grams, each
l2-normalised). `BatchHasher.transform` produces the same sparse matrix — tested
against the reference — but instead of one Python call per n-gram it hashes every
n-gram of a batch with a vectorised MurmurHash3 (x86, 32 bit, seed 0: the hash
scikit-learn uses) over the UTF-8 bytes of the batch.

The batch is one array of code points: every cleaned document followed by a NUL, so that
no token runs from one document into the next and a char n-gram that crosses a NUL is
simply discarded. Char n-grams are hashed at every byte position with fixed-length block
steps; only the few n-grams that hold a multi-byte character are hashed by length.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.pipeline import FeatureUnion
from sklearn.utils import murmurhash3_32

# MurmurHash3 constants as 0-d arrays: numpy applies them to small arrays about twice as
# fast as Python ints or numpy scalars, which matters for one listing at a time
_U = {v: np.array(v, dtype=np.uint32) for v in (*range(33), 0xCC9E2D51, 0x1B873593, 0xE6546B64, 0x85EBCA6B, 0xC2B2AE35)}
_FOUR = np.array(4, dtype=np.int64)
_SIGN = np.array([-1.0, 1.0])
_TAIL_MASK = np.array([0, 0xFF, 0xFFFF, 0xFFFFFF], dtype=np.uint32)
_SPACE, _WORD = 1, 2  # character flags: str.isspace() (what \s matches), \w (isalnum() or "_")
_PAD = 32  # zero bytes after a buffer: room for the last n-gram's blocks
_FEW_ROWS = 4  # batches of up to this many texts are multiplied with the weights in numpy
_FEW = 8  # ranges still unfinished after this many remain are hashed one by one


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
    """Lower-case as HashingVectorizer does; lone surrogates (not UTF-8 encodable) become "?"."""
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


def _flag(ch: str) -> int:
    return (_SPACE if ch.isspace() else 0) | (_WORD if ch.isalnum() or ch == "_" else 0)


@functools.cache
def _bmp_flags() -> np.ndarray:
    """_flag of every code point below 0x10000 (built once, ~6 ms)."""
    return np.array([_flag(chr(c)) for c in range(0x10000)], dtype=np.uint8)


def _char_flags(cp: np.ndarray) -> np.ndarray:
    table = _bmp_flags()
    if cp.dtype == np.uint8 or cp.max() < 0x10000:
        return table.take(cp)
    flags = table.take(np.minimum(cp, 0xFFFF))
    astral = (cp > 0xFFFF).nonzero()[0]
    uniq, inv = np.unique(cp[astral], return_inverse=True)
    flags[astral] = np.array([_flag(chr(c)) for c in uniq.tolist()], dtype=np.uint8)[inv]
    return flags


# --- MurmurHash3_x86_32, seed 0, on uint32 arrays (in place where the name says so)

def _rotl_(x: np.ndarray, r: int) -> np.ndarray:
    high = x >> _U[32 - r]
    x <<= _U[r]
    x |= high
    return x


def _mix_k_(k: np.ndarray) -> np.ndarray:
    k *= _U[0xCC9E2D51]
    _rotl_(k, 15)
    k *= _U[0x1B873593]
    return k


def _mix_h_(h: np.ndarray) -> np.ndarray:
    _rotl_(h, 13)
    h *= _U[5]
    h += _U[0xE6546B64]
    return h


def _fmix_(h: np.ndarray, length: np.ndarray) -> np.ndarray:
    """The finalisation; returns the signed view, as scikit-learn's murmurhash3_32."""
    h ^= length.astype(np.uint32, copy=False)
    h ^= h >> _U[16]
    h *= _U[0x85EBCA6B]
    h ^= h >> _U[13]
    h *= _U[0xC2B2AE35]
    h ^= h >> _U[16]
    return h.view(np.int32)


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


def murmur_ranges(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                  words: np.ndarray | None = None, mixed: np.ndarray | None = None) -> np.ndarray:
    """MurmurHash3_x86_32 (seed 0) of buf[s:s+l] for every (s, l); buf must end with 4 zero bytes.

    `words` is _words(buf) and `mixed` _mix_k_(words) when the caller has them already."""
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int32)
    words = _words(buf) if words is None else words
    mixed = _mix_k_(words.copy()) if mixed is None else mixed
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    nblocks = lengths >> 2
    top = int(nblocks.max())
    active = len(starts) - np.cumsum(np.bincount(nblocks))  # active[k]: ranges with more than k blocks
    h = np.zeros(len(starts), dtype=np.uint32)
    k = 0
    order = None
    if active[0] > _FEW:
        # most blocks first, so that the ranges still going at block k are a prefix; a stable
        # sort of small unsigned keys is a radix sort
        order = np.argsort((top - nblocks).astype(np.uint16 if top < 1 << 16 else np.int64), kind="stable")
        pos = starts[order]
        hs = np.zeros(len(pos), dtype=np.uint32)
        while k < top and active[k] > _FEW:
            m = int(active[k])
            hk = hs[:m]
            hk ^= mixed.take(pos[:m])
            _mix_h_(hk)
            pos[:m] += _FOUR
            k += 1
        h[order] = hs
    tail = words.take(starts + 4 * nblocks) & _TAIL_MASK.take(lengths & 3)
    h ^= _mix_k_(tail)
    out = _fmix_(h, lengths)
    if k < top:  # the few longest ranges (long unspaced runs): one call each
        rest = order[:int(active[k])] if order is not None else nblocks.nonzero()[0]
        for i in rest.tolist():
            out[i] = murmurhash3_32(buf[starts[i]: starts[i] + lengths[i]].tobytes(), seed=0)
    return out


@functools.cache
def _fixed_plan(sizes: tuple[int, ...]):
    """For _fixed_hashes: the rows that take the state after k blocks, for every k; the
    (row, offset, mask) of every size's tail; every size as a uint32 column."""
    s = np.array(sizes)
    after = [(k, (s >> 2 == k).nonzero()[0]) for k in range(1, max(sizes) // 4 + 1)]
    tails = [(i, 4 * (n >> 2), np.array(_TAIL_MASK[n & 3])) for i, n in enumerate(sizes) if n & 3]
    return after, tails, s[:, None].astype(np.uint32)


def _fixed_hashes(words: np.ndarray, mixed: np.ndarray, n_pos: int, sizes: tuple[int, ...]) -> np.ndarray:
    """MurmurHash3 of the `n` bytes at every position below n_pos, one row per n in sizes.

    All n-grams of one size share their block layout, so each step runs on whole shifted
    slices, and the state after k blocks is shared between sizes."""
    after, tails, lengths = _fixed_plan(sizes)
    out = np.zeros((len(sizes), n_pos), dtype=np.uint32)
    state = None
    for k, rows in after:
        step = mixed[4 * (k - 1): 4 * (k - 1) + n_pos]
        state = _mix_h_(step.copy() if state is None else state ^ step)
        out[rows] = state
    if tails:
        t = np.empty((len(tails), n_pos), dtype=np.uint32)
        for r, (_, at, mask) in enumerate(tails):
            np.bitwise_and(words[at: at + n_pos], mask, out=t[r])
        _mix_k_(t)
        for r, (i, _, _) in enumerate(tails):
            out[i] ^= t[r]
    return _fmix_(out, lengths)


# --- the batch as one array

@dataclass
class _Joined:
    """Cleaned, whitespace-collapsed documents, each followed by a NUL."""

    cp: np.ndarray           # code points (uint8 when all ASCII)
    flags: np.ndarray        # _SPACE | _WORD per code point
    seps: np.ndarray         # position of each document's NUL
    buf: np.ndarray          # UTF-8 bytes of cp, then _PAD zero bytes
    boff: np.ndarray | None  # byte offset of every char and of the end; None when bytes are chars

    def doc_starts(self) -> np.ndarray:
        return np.concatenate(([0], self.seps[:-1] + 1))


def _join(texts: list[str]) -> _Joined:
    docs = [clean(t) for t in texts]
    joined = "\0".join(docs) + "\0"
    if joined.isascii():
        cp = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    else:
        cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    seps = np.cumsum(np.fromiter(map(len, docs), dtype=np.int64, count=len(docs)) + 1) - 1
    flags = _char_flags(cp)
    cp, flags, seps = _collapse(cp, flags, seps)
    if cp.dtype != np.uint8 and int(cp.max()) < 0x80:  # the only non-ASCII were collapsed spaces
        cp = cp.astype(np.uint8)
    if cp.dtype == np.uint8:
        buf = np.zeros(len(cp) + _PAD, dtype=np.uint8)
        buf[:len(cp)] = cp
        return _Joined(cp, flags, seps, buf, None)
    raw = np.frombuffer(cp.tobytes().decode("utf-32-le").encode("utf-8"), dtype=np.uint8)
    buf = np.zeros(len(raw) + _PAD, dtype=np.uint8)
    buf[:len(raw)] = raw
    boff = ((buf & 0xC0) != 0x80).nonzero()[0]  # lead bytes; the first padding byte is the end
    return _Joined(cp, flags, seps, buf, boff[:len(cp) + 1])


def _collapse(cp: np.ndarray, flags: np.ndarray, seps: np.ndarray):
    """Every run of two or more whitespace characters becomes one space (as HashingVectorizer's
    char analyzer does; tokens are the same either way)."""
    space = (flags & _SPACE).view(bool)
    before = (space[1:] & space[:-1]).nonzero()[0]  # the character before a dropped one
    if not len(before):
        return cp, flags, seps
    cp = cp.copy()
    cp[before] = 0x20  # the run's first character; the others are dropped
    keep = np.ones(len(cp), dtype=bool)
    keep[before + 1] = False
    return cp[keep], flags[keep], seps - np.searchsorted(before + 1, seps)


# --- n-grams

@dataclass
class Batch:
    """The n-grams of a batch: row, hashed column and sign of each; with spans when asked.

    Spans are char offsets into the cleaned, whitespace-collapsed document."""

    rows: np.ndarray
    cols: np.ndarray
    positive: np.ndarray  # the hash's sign: True adds +1, False adds -1
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None


@functools.lru_cache(maxsize=256)
def _slot_keys(n: int, shift: int, n_char: int, dtype: np.dtype) -> np.ndarray:
    """The first possible cell key of every slot (row r's char block, then its word block) and of row n."""
    keys = (np.arange(n + 1, dtype=dtype)[:, None] << shift) + np.array([0, n_char], dtype=dtype)
    return keys.ravel()[:-1]


class BatchHasher:
    """The features of a batch of texts: `transform` gives the sparse matrix (training, tests),
    `dot` its product with the models' stacked weights (prediction).

    Every n-gram becomes one integer key (row, column, sign); one sort of the keys groups
    repeated n-grams into each row's signed counts, from which come the block norms."""

    def __init__(self, params: FeatureParams = FeatureParams()):
        for bits in (params.char_bits, params.word_bits):
            if not 1 <= bits <= 30:
                raise ValueError(f"hash bits must be within 1..30, not {bits}")
        self.p = params
        self.n_char = 1 << params.char_bits
        self.n_word = 1 << params.word_bits
        self.shift = params.n_features.bit_length()  # n_features is a sum of two powers of two: cols < 2**shift
        lo, hi = params.char_ngrams
        self.sizes = np.arange(hi, lo - 1, -1)  # char n-gram sizes, one row each
        self._size_tuple = tuple(self.sizes.tolist())
        # (row, offset back from a NUL) of every char n-gram that holds the NUL
        self._nul_rows = np.repeat(np.arange(len(self.sizes)), self.sizes)
        self._nul_back = np.concatenate([np.arange(n) for n in self.sizes.tolist()])
        _bmp_flags()  # built now rather than in the first listing's time

    def _hashes(self, j: _Joined) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(char, word, word rows, word starts, word ends): the hash of the char n-gram of each
        size (rows) at each char (columns), and of every word n-gram with its row and span.

        Word n-grams are hashed from the tokens joined by one space, written after the text in
        the same buffer, so that one MurmurHash pass serves both kinds."""
        n_chars, n_bytes = len(j.cp), len(j.buf) - _PAD
        starts, ends = self._tokens(j)
        if j.boff is None:
            b_start, b_len = starts, ends - starts
        else:
            b_start = j.boff[starts]
            b_len = j.boff[ends] - b_start
        step = b_len + 1
        at = step.cumsum()
        at += n_bytes - step  # where each token goes
        total = int(step.sum())
        buf = np.zeros(n_bytes + total + _PAD, dtype=np.uint8)
        buf[:n_bytes] = j.buf[:n_bytes]
        src = (b_start - at).repeat(step)
        src += np.arange(n_bytes, n_bytes + total)
        buf[n_bytes:n_bytes + total] = j.buf.take(src)
        buf[at + b_len] = 0x20
        words = _words(buf)
        mixed = _mix_k_(words.copy())
        ch = _fixed_hashes(words, mixed, n_bytes, self._size_tuple)

        t_doc = j.seps.searchsorted(starts)
        lo, hi = self.p.word_ngrams
        first = [np.arange(len(t_doc)) if n == 1 else (t_doc[n - 1:] == t_doc[:len(t_doc) - n + 1]).nonzero()[0]
                 for n in range(lo, hi + 1)]  # n tokens of one document
        last = np.concatenate([i + n - 1 for i, n in zip(first, range(lo, hi + 1))])
        first = np.concatenate(first)
        r_start, r_len = [at[first]], [at[last] + b_len[last] - at[first]]
        n_odd = 0
        if j.boff is not None:  # the hash at each char's first byte, unless the n chars are not n bytes
            ch = ch.take(j.boff[:-1], axis=1)
            odd = [(j.boff[n:] - j.boff[:-n] != n).nonzero()[0] for n in self.sizes.tolist()]
            row = np.repeat(np.arange(len(odd)), [len(o) for o in odd])
            pos = np.concatenate(odd)
            n_odd = len(pos)
            start = j.boff[pos]
            r_start.append(start)
            r_len.append(j.boff[pos + self.sizes[row]] - start)
        h = murmur_ranges(buf, np.concatenate(r_start), np.concatenate(r_len), words, mixed)
        if n_odd:
            ch[row, pos] = h[len(h) - n_odd:]
        return ch[:, :n_chars], h[:len(first)], t_doc[first], starts[first], ends[last]

    @staticmethod
    def _tokens(j: _Joined) -> tuple[np.ndarray, np.ndarray]:
        """Start and end char of every token: runs of two or more word characters (\\b\\w\\w+\\b)."""
        isw = (j.flags >> 1).view(bool)  # _WORD
        edges = (isw[1:] != isw[:-1]).nonzero()[0] + 1
        if isw[0]:
            edges = np.concatenate(([0], edges))
        starts, ends = edges[0::2], edges[1::2]  # the last char is a NUL: every run ends
        keep = ends - starts >= 2
        return starts[keep], ends[keep]

    def _across_nul(self, j: _Joined) -> np.ndarray:
        """Flat indices into the char hashes of the n-grams that hold a NUL: not n-grams."""
        at = np.maximum(j.seps[:, None] - self._nul_back, 0)  # below 0 only when position 0 holds a NUL too
        at += self._nul_rows * len(j.cp)
        return at.ravel()

    def ngrams(self, texts: list[str], spans: bool = False) -> Batch:
        j = _join(texts)
        ch, w_hash, w_rows, w_start, w_end = self._hashes(j)
        ok = np.ones(ch.shape, dtype=bool)
        ok.ravel()[self._across_nul(j)] = False
        size_i, c_start = np.nonzero(ok)
        c_rows = np.searchsorted(j.seps, c_start)
        h = np.concatenate((ch[size_i, c_start], w_hash))
        rows = np.concatenate((c_rows, w_rows))
        word = np.arange(len(h)) >= len(c_start)
        cols = (np.abs(h) & np.where(word, self.n_word - 1, self.n_char - 1)) + np.where(word, self.n_char, 0)
        batch = Batch(rows, cols.astype(np.int64), h >= 0)
        if spans:
            doc_start = j.doc_starts()[rows]
            batch.starts = np.concatenate((c_start, w_start)) - doc_start
            batch.ends = np.concatenate((c_start + self.sizes[size_i], w_end)) - doc_start
        return batch

    @staticmethod
    def _key(h: np.ndarray, n_cols: int, offset: int, row_key: np.ndarray | None, out: np.ndarray) -> None:
        """out = row_key | column << 1 | (1 if h >= 0 else 0), the column as scikit-learn's
        abs(h) % n_cols (abs(-2**31) taken as 0) plus offset."""
        h = h.astype(out.dtype, copy=False)
        np.abs(h, out=out)
        out &= n_cols - 1
        if offset:
            out += offset
        out <<= 1
        out += 1
        out += h >> 31  # -1 for a negative hash
        if row_key is not None:
            out |= row_key

    def _keys(self, texts: list[str]) -> np.ndarray:
        """One sortable key per n-gram: row, then column, then sign (1 = positive); n-grams that
        are not (across a NUL) get row len(texts), after every real row."""
        n = len(texts)
        dtype = np.int32 if ((n + 1) << (self.shift + 1)) < 2**31 else np.int64
        j = _join(texts)
        ch, w_hash, w_rows, _, _ = self._hashes(j)
        key = np.empty(ch.size + len(w_hash), dtype=dtype)
        row_key = w_row_key = None  # one document: row 0
        if n > 1:
            row_key = (np.arange(n, dtype=dtype) << (self.shift + 1)).repeat(np.diff(j.seps, prepend=-1))
            w_row_key = w_rows.astype(dtype) << (self.shift + 1)
        self._key(ch, self.n_char, 0, row_key, key[:ch.size].reshape(ch.shape))
        key[self._across_nul(j)] = n << (self.shift + 1)
        self._key(w_hash, self.n_word, self.n_char, w_row_key, key[ch.size:])
        return key

    def _counts(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(counts, cols, bounds, norms, dups): the signed count of every distinct (row, col),
        sorted; per slot (row r's char block is slot 2r, its word block 2r+1) where it starts in
        the cells (bounds, 2 n + 1 values) and its l2 norm (1 when empty); the cells that
        repeat the one before with count 0."""
        n = len(texts)
        key = self._keys(texts)
        key.sort()
        new = np.empty(len(key), dtype=bool)
        new[:1] = True
        np.not_equal(key[1:], key[:-1], out=new[1:])
        first = new.nonzero()[0]
        group = key.take(first)
        cell = group >> 1
        counts = np.empty(len(first))
        np.subtract(first[1:], first[:-1], out=counts[:-1])
        counts[-1] = len(key) - first[-1]
        counts *= _SIGN.take(group & 1)
        bounds = cell.searchsorted(_slot_keys(n, self.shift, self.n_char, cell.dtype))
        cell, counts = cell[:bounds[-1]], counts[:bounds[-1]]
        cols = cell & ((1 << self.shift) - 1)
        # distinct n-grams of one cell with both signs: the second's count moves to the first
        # and it stays as a zero (the product does not mind; cells() drops it)
        dups = (cell[1:] == cell[:-1]).nonzero()[0] + 1
        if len(dups):
            counts[dups - 1] += counts[dups]
            counts[dups] = 0.0
        filled = (bounds[1:] > bounds[:-1]).nonzero()[0]
        norms = np.ones(2 * n)
        if len(filled):
            norms[filled] = np.sqrt(np.add.reduceat(counts * counts, bounds[filled]))
        return counts, cols, bounds, norms, dups

    def cells(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cols, data, indptr) of the normalised feature matrix in CSR layout (rows in order)."""
        counts, cols, bounds, norms, dups = self._counts(texts)
        data = counts / np.repeat(norms, np.diff(bounds))
        if len(dups):
            keep = np.ones(len(cols), dtype=bool)
            keep[dups] = False
            cols, data, bounds = cols[keep], data[keep], bounds - np.searchsorted(dups, bounds)
        return cols, data, bounds[0::2]

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """The same matrix as reference_features(params).transform(texts)."""
        cols, data, indptr = self.cells(texts)
        return sp.csr_matrix((data, cols, indptr), shape=(len(texts), self.p.n_features))

    def dot(self, texts: list[str], weights: np.ndarray) -> np.ndarray:
        """transform(texts) @ weights, without normalising every cell: each slot's (row and
        block's) product with the raw counts is divided by the slot's norm."""
        n = len(texts)
        if n == 0:
            return np.zeros((0, weights.shape[1]))
        counts, cols, bounds, norms, _ = self._counts(texts)
        if n <= _FEW_ROWS:  # scipy's checks of a new matrix cost more than this product
            g = weights.take(cols, axis=0)
            raw = np.array([counts[a:b] @ g[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())])
        else:
            raw = sp.csr_matrix((counts, cols, bounds), shape=(2 * n, self.p.n_features)) @ weights
        raw /= norms[:, None]
        return raw.reshape(n, 2, -1).sum(axis=1)
