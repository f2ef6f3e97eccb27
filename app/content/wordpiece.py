"""WordPiece: BERT's uncased tokenizer from a vocab.txt, so the service needs no tokenizers lib.

It reproduces what Hugging Face `tokenizers` does for bert-base-uncased-style vocabularies
(BertNormalizer, BertPreTokenizer, WordPiece, then [CLS] ... [SEP]), checked id for id in
tests/app/test_wordpiece.py. Normalisation: drop NUL, U+FFFD and control characters, map
whitespace to a space, put spaces around CJK ideographs, strip accents (NFD, drop Mn), lower
case. Words split on whitespace and punctuation, then greedily into the longest pieces in the
vocabulary ("##" marks a continuation); a word that cannot be split, or one longer than 100
characters, is [UNK]. Wu et al. 2016 (Google's NMT) and Devlin et al. 2019 (BERT).
"""

import string
import unicodedata
from pathlib import Path

MAX_WORD_CHARS = 100  # longer words are [UNK] whole, as BERT does
CONTINUATION = "##"
# CJK Unified Ideographs and their extensions, and the compatibility blocks (BERT's list):
# each ideograph is a word of its own; Hangul and kana are not in it
CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def _is_cjk(code: int) -> bool:
    return any(low <= code <= high for low, high in CJK_RANGES)


def _is_punctuation(char: str) -> bool:
    """ASCII punctuation (which counts $, +, ^ ... too) and every Unicode P* category."""
    return char in string.punctuation or unicodedata.category(char).startswith("P")


def normalize(text: str) -> str:
    """BertNormalizer(clean_text, handle_chinese_chars, strip_accents, lowercase)."""
    chars = []
    for char in text:
        if char in "\t\n\r" or char.isspace() and not unicodedata.category(char).startswith("C"):
            chars.append(" ")
        elif char in "\0\ufffd" or unicodedata.category(char).startswith("C"):
            continue
        elif _is_cjk(ord(char)):
            chars.extend((" ", char, " "))
        else:
            chars.append(char)
    decomposed = unicodedata.normalize("NFD", "".join(chars))
    # lower case char by char, as `tokenizers` does: no final-sigma rule (str.lower has one)
    return "".join(c.lower() for c in decomposed if unicodedata.category(c) != "Mn")


def split_words(text: str) -> list[str]:
    """BertPreTokenizer: split on whitespace, and every punctuation mark is a word of its own."""
    words: list[str] = []
    for chunk in text.split():
        start = 0
        for end, char in enumerate(chunk):
            if _is_punctuation(char):
                if end > start:
                    words.append(chunk[start:end])
                words.append(char)
                start = end + 1
        if start < len(chunk):
            words.append(chunk[start:])
    return words


class WordPiece:
    """Immutable after construction, so safe from any thread."""

    __slots__ = ("_cls", "_max_tokens", "_sep", "_unk", "_vocab")

    def __init__(self, vocab_path: Path, max_tokens: int = 128) -> None:
        lines = vocab_path.read_text(encoding="utf-8").splitlines()
        self._vocab = {token: row for row, token in enumerate(lines)}
        missing = {"[UNK]", "[CLS]", "[SEP]", "[PAD]"} - self._vocab.keys()
        if missing:
            raise ValueError(f"{vocab_path} lacks the special tokens {sorted(missing)}")
        if max_tokens < 2:
            raise ValueError("max_tokens must leave room for [CLS] and [SEP]")
        self._unk, self._cls, self._sep = (self._vocab[t] for t in ("[UNK]", "[CLS]", "[SEP]"))
        self._max_tokens = max_tokens

    @property
    def pad_id(self) -> int:
        return self._vocab["[PAD]"]

    @property
    def vocab_size(self) -> int:
        return len(self._vocab)

    def pieces(self, text: str) -> list[int]:
        """The ids of the text's word pieces, without [CLS], [SEP] or truncation."""
        ids: list[int] = []
        for word in split_words(normalize(text)):
            ids.extend(self._word_pieces(word))
        return ids

    def encode(self, text: str) -> list[int]:
        """[CLS] pieces [SEP], the pieces truncated so that the whole fits in max_tokens."""
        return [self._cls, *self.pieces(text)[: self._max_tokens - 2], self._sep]

    def _word_pieces(self, word: str) -> list[int]:
        """Greedy longest match first; one unmatched remainder makes the whole word [UNK]."""
        if len(word) > MAX_WORD_CHARS:
            return [self._unk]
        ids, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else CONTINUATION + word[start:end]
                row = self._vocab.get(piece)
                if row is not None:
                    ids.append(row)
                    start = end
                    break
            else:
                return [self._unk]
        return ids
