"""Hashed character and word n-grams for a whole batch, compiled with numba.

`reference_features()` is the scikit-learn definition the models are trained and saved
with: a FeatureUnion of two HashingVectorizers (char 3-5 and word 1-2 n-grams, each
l2-normalised). `BatchHasher` produces the same features — tested against the reference —
but hashes every n-gram of a batch in one compiled loop (MurmurHash3 x86 32 bit, seed 0:
the hash scikit-learn uses) instead of one Python call per n-gram, and `dot` multiplies
them with the models' weights without building a sparse matrix.

The batch is one array of code points: every cleaned document followed by a NUL. The
compiled part collapses whitespace runs and encodes UTF-8 (_layout), hashes the char n-grams
of every size at every byte position at once (_fixed), turns every n-gram into a sortable
(row, column, sign) key (_emit), and either sums each row's signs per column in a scratch
array and multiplies the distinct columns with the weights (_dot: prediction), or
groups the sorted keys into signed counts and block norms (_cells: the sparse matrix).
"""
from __future__ import annotations

import functools
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.pipeline import FeatureUnion

# The compiled kernels are cached beside this file; an installation where that is read-only (and
# numba's user cache may be too, in a container) caches them in the temp directory instead.
if not numba.config.CACHE_DIR and not os.access(Path(__file__).parent, os.W_OK):
    numba.config.CACHE_DIR = str(Path(tempfile.gettempdir()) / "scanner-numba-cache")

_SPACE, _WORD = 1, 2  # character flags: str.isspace() (what \s matches), \w (isalnum() or "_")


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


# --- compiled: MurmurHash3_x86_32, seed 0 (numba computes in 64 bits: every step is cut to 32)

@numba.njit(inline="always")
def _u32(x):
    return np.uint32(x)


@numba.njit(inline="always")
def _mix_k(k):
    k = _u32(k * _u32(0xCC9E2D51))
    k = _u32((k << _u32(15)) | (k >> _u32(17)))
    return _u32(k * _u32(0x1B873593))


@numba.njit(inline="always")
def _mix_h(h):
    h = _u32((h << _u32(13)) | (h >> _u32(19)))
    return _u32(h * _u32(5) + _u32(0xE6546B64))


@numba.njit(inline="always")
def _fmix(h, n):
    h = _u32(h ^ _u32(n))
    h ^= h >> _u32(16)
    h = _u32(h * _u32(0x85EBCA6B))
    h ^= h >> _u32(13)
    h = _u32(h * _u32(0xC2B2AE35))
    h ^= h >> _u32(16)
    return h


@numba.njit(inline="always")
def _word(buf, p):
    return _u32(buf[p]) | (_u32(buf[p + 1]) << _u32(8)) | (_u32(buf[p + 2]) << _u32(16)) | (_u32(buf[p + 3]) << _u32(24))


@numba.njit(inline="always")
def _tail_k(buf, p, t):
    k = _u32(0)
    if t == 3:
        k ^= _u32(buf[p + 2]) << _u32(16)
    if t >= 2:
        k ^= _u32(buf[p + 1]) << _u32(8)
    k ^= _u32(buf[p])
    return _mix_k(k)


@numba.njit(cache=True, nogil=True)
def _murmur(buf, start, n):
    """The signed MurmurHash3 of buf[start:start + n], as sklearn.utils.murmurhash3_32."""
    h = _u32(0)
    p = start
    end4 = start + (n & ~3)
    while p < end4:
        h = _mix_h(h ^ _mix_k(_word(buf, p)))
        p += 4
    if n & 3:
        h ^= _tail_k(buf, p, n & 3)
    return np.int32(_fmix(h, n))


_SHARED_BLOCKS = 6  # _murmur_many steps every range through this many blocks together


@numba.njit(cache=True, nogil=True)
def _murmur_many(buf, starts, lengths, out):
    """out[r] = _murmur(buf, starts[r], lengths[r]) for every r, block by block over all ranges
    (no branch on each range's length, independent hashes side by side); the few ranges longer
    than _SHARED_BLOCKS blocks finish one by one. buf is padded with 4 zero bytes."""
    n = len(starts)
    h = np.zeros(n, np.uint32)
    longest = 0
    for r in range(n):
        longest = max(longest, lengths[r] >> 2)
    for k in range(min(longest, _SHARED_BLOCKS)):
        for r in range(n):
            step = _mix_h(h[r] ^ _mix_k(_word(buf, starts[r] + 4 * k)))
            h[r] = step if lengths[r] >> 2 > k else h[r]
    for r in range(n):
        length = lengths[r]
        p = starts[r] + 4 * _SHARED_BLOCKS
        end4 = starts[r] + (length & ~3)
        while p < end4:
            h[r] = _mix_h(h[r] ^ _mix_k(_word(buf, p)))
            p += 4
        tail = length & 3
        k = _word(buf, starts[r] + (length & ~3)) & _u32((1 << (8 * tail)) - 1)
        out[r] = np.int32(_fmix(h[r] ^ (_mix_k(k) if tail else _u32(0)), length))


@numba.njit(cache=True, nogil=True)
def _fixed(buf, n_pos, sizes):
    """The hash of the sizes[s] bytes at every position below n_pos (row s), loop by loop over
    all positions so that the compiler vectorises them; sizes sorted from the longest, and buf
    padded with at least sizes[0] + 4 zero bytes after n_pos."""
    out = np.empty((len(sizes), n_pos), np.uint32)
    state = np.zeros(n_pos, np.uint32)
    for k in range((sizes[0] >> 2) + 1):
        if k:
            off = 4 * (k - 1)
            for i in range(n_pos):
                state[i] = _mix_h(state[i] ^ _mix_k(_word(buf, i + off)))
        for s in range(len(sizes)):
            n = sizes[s]
            if n >> 2 != k:
                continue
            row = out[s]
            off = 4 * k
            if n & 3 == 0:
                for i in range(n_pos):
                    row[i] = _fmix(state[i], n)
            else:
                mask = _u32((1 << (8 * (n & 3))) - 1)
                for i in range(n_pos):
                    row[i] = _fmix(state[i] ^ _mix_k(_word(buf, i + off) & mask), n)
    return out


@numba.njit(inline="always")
def _put(buf, b, c):
    """UTF-8 of code point c at buf[b:]; returns the next b."""
    if c < 0x80:
        buf[b] = c
        return b + 1
    if c < 0x800:
        buf[b] = 0xC0 | (c >> 6)
        buf[b + 1] = 0x80 | (c & 0x3F)
        return b + 2
    if c < 0x10000:
        buf[b] = 0xE0 | (c >> 12)
        buf[b + 1] = 0x80 | ((c >> 6) & 0x3F)
        buf[b + 2] = 0x80 | (c & 0x3F)
        return b + 3
    buf[b] = 0xF0 | (c >> 18)
    buf[b + 1] = 0x80 | ((c >> 12) & 0x3F)
    buf[b + 2] = 0x80 | ((c >> 6) & 0x3F)
    buf[b + 3] = 0x80 | (c & 0x3F)
    return b + 4


@numba.njit(cache=True, nogil=True)
def _layout(cp, flags, ends, pad):
    """The batch as HashingVectorizer's char analyzer sees it: every run of two or more
    whitespace characters becomes one space (the NUL after each document, at `ends`, is not
    whitespace). Returns the UTF-8 bytes (then `pad` zero bytes), each kept char's byte
    offset (and the end's), each kept char's flags, and where each document's NUL is kept."""
    buf = np.zeros(4 * len(cp) + pad, np.uint8)
    boff = np.empty(len(cp) + 1, np.int64)
    kflags = np.empty(len(cp), np.uint8)
    seps = np.empty(len(ends), np.int64)
    m = 0
    b = 0
    n_docs = 0
    for i in range(len(cp)):
        f = flags[i]
        c = np.uint32(cp[i])
        if f & 1:
            if i > 0 and flags[i - 1] & 1:
                continue  # within a run, after its first character
            if i + 1 < len(cp) and flags[i + 1] & 1:
                c = np.uint32(32)  # a run's first character stands for the run
        elif n_docs < len(ends) and i == ends[n_docs]:
            seps[n_docs] = m
            n_docs += 1
        boff[m] = b
        kflags[m] = f
        b = _put(buf, b, c)
        m += 1
    boff[m] = b
    return buf[:b + pad], boff[:m + 1], kflags[:m], seps


@numba.njit(inline="always")
def _key(row_key, h, n_cols, offset):
    """row_key | column << 1 | sign: the column as scikit-learn's abs(h) % n_cols (abs(-2**31)
    % 2**k is 0) plus offset, the sign 1 for h >= 0."""
    h = np.int64(h)
    return row_key | (((abs(h) & (n_cols - 1)) + offset) << 1) | (1 if h >= 0 else 0)


@numba.njit(cache=True, nogil=True)
def _emit(buf, boff, kflags, seps, fixed, sizes, w_lo, w_hi, n_char, n_word, shift, keys, spans):
    """Every n-gram of every document as a key (row, column, sign: see _key) into `keys`; with
    its span too when `spans` has a row per key (char offsets into the cleaned,
    whitespace-collapsed document). Returns how many.

    Char n-grams of n one-byte characters take their hash from `fixed`; tokens are runs of two
    or more word characters (\\b\\w\\w+\\b), joined by one space in word n-grams."""
    with_spans = len(spans) == len(keys)
    m = len(kflags)
    t_start = np.empty(m + 1, np.int64)
    t_end = np.empty(m + 1, np.int64)
    stream = np.empty(len(buf) + m + 8, np.uint8)  # a document's tokens, each then a space
    tok_at = np.empty(m + 1, np.int64)
    tok_end = np.empty(m + 1, np.int64)
    n_ranges = m * max(w_hi - w_lo + 1, 0) + 1
    r_start = np.empty(n_ranges, np.int64)
    r_len = np.empty(n_ranges, np.int64)
    r_hash = np.empty(n_ranges, np.int32)
    out = 0
    a = 0
    for row in range(len(seps)):
        z = seps[row]
        row_key = np.int64(row) << (shift + 1)
        ascii = boff[z] - boff[a] == z - a
        for s in range(len(sizes)):
            n = sizes[s]
            if ascii:  # the hashes are fixed's, in order: a loop the compiler vectorises
                row_hashes = fixed[s, boff[a]: boff[a] + max(z - a - n + 1, 0)]
                for j in range(len(row_hashes)):
                    keys[out + j] = _key(row_key, np.int32(row_hashes[j]), n_char, 0)
            else:
                for i in range(a, z - n + 1):
                    b = boff[i]
                    length = boff[i + n] - b
                    h = np.int32(fixed[s, b]) if length == n else _murmur(buf, b, length)
                    keys[out + i - a] = _key(row_key, h, n_char, 0)
            count = max(z - a - n + 1, 0)
            if with_spans:
                for j in range(count):
                    spans[out + j, 0] = j
                    spans[out + j, 1] = j + n
            out += count
        # tokens without a branch per character (word edges are too irregular to predict):
        # every edge is written, the counts say which stay; the NULs around a document are
        # not word characters (kflags[-1] is the last one)
        n_tok = 0
        n_end = 0
        for i in range(a, z + 1):
            word_here = (kflags[i] >> 1) & 1
            word_before = (kflags[i - 1] >> 1) & 1
            t_start[n_tok] = i
            n_tok += word_here & (1 - word_before)
            t_end[n_end] = i
            n_end += word_before & (1 - word_here)
        kept = 0
        for t in range(n_tok):  # runs of two or more
            t_start[kept] = t_start[t]
            t_end[kept] = t_end[t]
            kept += t_end[t] - t_start[t] >= 2
        n_tok = kept
        # the tokens joined by one space: every word n-gram is a range of these bytes
        q = 0
        for t in range(n_tok):
            tok_at[t] = q
            for p in range(boff[t_start[t]], boff[t_end[t]]):
                stream[q] = buf[p]
                q += 1
            tok_end[t] = q
            stream[q] = 32
            q += 1
        stream[q: q + 4] = 0
        count = 0
        for n in range(w_lo, w_hi + 1):
            for t in range(n_tok - n + 1):
                r_start[count] = tok_at[t]
                r_len[count] = tok_end[t + n - 1] - tok_at[t]
                if with_spans:
                    spans[out + count, 0] = t_start[t] - a
                    spans[out + count, 1] = t_end[t + n - 1] - a
                count += 1
        _murmur_many(stream, r_start[:count], r_len[:count], r_hash)
        for r in range(count):
            keys[out + r] = _key(row_key, r_hash[r], n_word, n_char)
        out += count
        a = z + 1
    return out


@numba.njit(cache=True, nogil=True)
def _cells(keys, n_rows, shift, n_char):
    """From sorted keys: the signed count of every distinct (row, col) in order, each row's
    start (indptr) and the l2 norms of its char and word blocks (1 when 0).

    Counts and squares are summed in locals and written when the cell or row changes: an
    array element updated key after key would wait for its own last store every time."""
    cols = np.empty(len(keys), np.int64)
    counts = np.empty(len(keys), np.float64)
    indptr = np.zeros(n_rows + 1, np.int64)
    norms = np.ones((n_rows, 2), np.float64)
    col_mask = (1 << shift) - 1
    n = 0
    cell = -1
    row = 0
    acc = 0.0
    sq_char = 0.0
    sq_word = 0.0
    for i in range(len(keys) + 1):
        key = np.int64(keys[i]) if i < len(keys) else np.int64(n_rows) << (shift + 1)
        if key >> 1 != cell:
            if cell >= 0:  # the cell before is complete
                col = cell & col_mask
                cols[n] = col
                counts[n] = acc
                n += 1
                if col < n_char:
                    sq_char += acc * acc
                else:
                    sq_word += acc * acc
            cell = key >> 1
            acc = 0.0
            if cell >> shift != row:  # and so is its row
                if sq_char > 0:
                    norms[row, 0] = np.sqrt(sq_char)
                if sq_word > 0:
                    norms[row, 1] = np.sqrt(sq_word)
                sq_char = sq_word = 0.0
                for r in range(row + 1, min(cell >> shift, n_rows) + 1):
                    indptr[r] = n
                row = cell >> shift
        acc += np.float64(2 * (key & 1) - 1)  # arithmetic, not a branch: signs are random
    return cols[:n], counts[:n], indptr, norms


_MAX_K = 8  # weight columns summed in locals by _segment_dot at a time


@numba.njit(inline="always")
def _segment_dot(cols, counts, a, z, weights, j0, k):
    """counts[a:z] @ weights[cols[a:z], j0:j0 + k] for k <= _MAX_K, summed in locals: the gathers
    of weight rows (random, mostly from memory) overlap instead of waiting on one another's sums."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    for i in range(a, z):
        c = cols[i]
        v = counts[i]
        s0 += v * weights[c, j0]
        if k > 1:
            s1 += v * weights[c, j0 + 1]
        if k > 2:
            s2 += v * weights[c, j0 + 2]
        if k > 3:
            s3 += v * weights[c, j0 + 3]
        if k > 4:
            s4 += v * weights[c, j0 + 4]
        if k > 5:
            s5 += v * weights[c, j0 + 5]
        if k > 6:
            s6 += v * weights[c, j0 + 6]
        if k > 7:
            s7 += v * weights[c, j0 + 7]
    return (s0, s1, s2, s3, s4, s5, s6, s7)


@numba.njit(inline="always")
def _take(cols, scratch, a, z, ucols, counts, n):
    """The distinct columns among cols[a:z] and their signed counts (from `scratch`, then
    cleared) appended to ucols/counts from n; returns the new length and the sum of squares."""
    sq = 0.0
    for i in range(a, z):
        c = cols[i]
        v = scratch[c]
        if v != 0:
            scratch[c] = 0
            ucols[n] = c
            counts[n] = v
            sq += np.float64(v) * v
            n += 1
    return n, sq


@numba.njit(cache=True, nogil=True)
def _dot(keys, n_rows, shift, n_char, weights, scratch):
    """Each row's normalised features times weights (n_features x k), without sorting the keys:
    a row's signs are summed per column in `scratch` (zero before and after), then each distinct
    column is taken once. A row's keys are contiguous, its char n-grams before its word n-grams."""
    k = weights.shape[1]
    out = np.zeros((n_rows, k), np.float64)
    col_mask = (1 << shift) - 1
    row_shift = shift + 1
    cols = np.empty(len(keys), np.int64)
    ucols = np.empty(len(keys), np.int64)
    counts = np.empty(len(keys), np.float64)
    a = 0
    while a < len(keys):
        row = np.int64(keys[a]) >> row_shift
        split = -1
        z = a
        while z < len(keys) and np.int64(keys[z]) >> row_shift == row:
            key = np.int64(keys[z])
            c = (key >> 1) & col_mask
            cols[z] = c
            scratch[c] += 2 * (key & 1) - 1
            if split < 0 and c >= n_char:
                split = z
            z += 1
        if split < 0:
            split = z
        n_c, sq_char = _take(cols, scratch, a, split, ucols, counts, 0)
        n, sq_word = _take(cols, scratch, split, z, ucols, counts, n_c)
        norm_char = np.sqrt(sq_char) if sq_char > 0 else 1.0
        norm_word = np.sqrt(sq_word) if sq_word > 0 else 1.0
        for j0 in range(0, k, _MAX_K):
            width = min(k - j0, _MAX_K)
            char = _segment_dot(ucols, counts, 0, n_c, weights, j0, width)
            word = _segment_dot(ucols, counts, n_c, n, weights, j0, width)
            for j in range(width):
                out[row, j0 + j] = char[j] / norm_char + word[j] / norm_word
        a = z
    return out


# --- the batch

@dataclass
class Batch:
    """The n-grams of a batch: row, hashed column and sign of each; with spans when asked.

    Spans are char offsets into the cleaned, whitespace-collapsed document."""

    rows: np.ndarray
    cols: np.ndarray
    positive: np.ndarray  # the hash's sign: True adds +1, False adds -1
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None


def murmur(data: bytes) -> int:
    """The compiled MurmurHash3 (for tests: it must equal sklearn.utils.murmurhash3_32)."""
    return int(_murmur(np.frombuffer(data + b"\0", dtype=np.uint8), 0, len(data)))


class BatchHasher:
    """The features of a batch of texts: `transform` gives the sparse matrix (training, tests),
    `dot` its product with the models' stacked weights (prediction), `ngrams` every n-gram
    with its span (explanations)."""

    def __init__(self, params: FeatureParams = FeatureParams()):
        for bits in (params.char_bits, params.word_bits):
            if not 1 <= bits <= 30:
                raise ValueError(f"hash bits must be within 1..30, not {bits}")
        self.p = params
        self.n_char = 1 << params.char_bits
        self.n_word = 1 << params.word_bits
        lo, hi = params.char_ngrams
        self._sizes = np.arange(hi, lo - 1, -1, dtype=np.int64)
        self.shift = params.n_features.bit_length()  # n_features is a sum of two powers of two: cols < 2**shift
        self._local = threading.local()
        # the flag table built and the compiled kernels loaded (or compiled, ~5 s, then cached
        # beside this file) now rather than in the first listing's time
        self.dot(["warm up"], np.zeros((params.n_features, 1)))

    def _scratch(self) -> np.ndarray:
        """_dot's per-column counters, zero between calls; one array per thread (the
        kernels release the GIL, so threads may multiply at once)."""
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = np.zeros(self.p.n_features, np.int32)
        return scratch

    def _keys(self, texts: list[str], spans: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The key of every n-gram (see _key), in document order, and their spans if asked."""
        docs = [clean(t) for t in texts]
        cp = np.frombuffer(("\0".join(docs) + "\0").encode("utf-32-le"), dtype=np.uint32)
        ends = np.cumsum(np.fromiter(map(len, docs), dtype=np.int64, count=len(docs)) + 1) - 1
        buf, boff, kflags, seps = _layout(cp, _char_flags(cp), ends, int(self._sizes[0]) + 8)
        fixed = _fixed(buf, int(boff[-1]), self._sizes)
        lo, hi = self.p.word_ngrams
        cap = len(kflags) * (len(self._sizes) + max(hi - lo + 1, 0)) + 1
        dtype = np.int32 if (len(texts) + 1) << (self.shift + 1) < 2**31 else np.int64
        keys = np.empty(cap, dtype)
        where = np.empty((cap if spans else 0, 2), np.int64)
        n = _emit(buf, boff, kflags, seps, fixed, self._sizes, lo, hi, self.n_char, self.n_word, self.shift, keys, where)
        return keys[:n], where[:n]

    def ngrams(self, texts: list[str], spans: bool = False) -> Batch:
        keys, where = self._keys(texts, spans)
        keys = keys.astype(np.int64)
        batch = Batch(keys >> (self.shift + 1), (keys >> 1) & ((1 << self.shift) - 1), (keys & 1).astype(bool))
        if spans:
            batch.starts, batch.ends = where[:, 0], where[:, 1]
        return batch

    def _counts(self, texts: list[str]):
        keys, _ = self._keys(texts)
        keys.sort()
        return _cells(keys, len(texts), self.shift, self.n_char)

    def cells(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cols, data, indptr) of the normalised feature matrix in CSR layout (rows in order)."""
        cols, counts, indptr, norms = self._counts(texts)
        block = (cols >= self.n_char).astype(np.int64)
        row = np.repeat(np.arange(len(texts)), np.diff(indptr))
        return cols, counts / norms[row, block], indptr

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """The same matrix as reference_features(params).transform(texts)."""
        cols, data, indptr = self.cells(texts)
        return sp.csr_matrix((data, cols, indptr), shape=(len(texts), self.p.n_features))

    def dot(self, texts: list[str], weights: np.ndarray) -> np.ndarray:
        """transform(texts) @ weights."""
        if not texts:
            return np.zeros((0, weights.shape[1]))
        keys, _ = self._keys(texts)
        return _dot(keys, len(texts), self.shift, self.n_char, np.ascontiguousarray(weights, dtype=np.float64),
                    self._scratch())
