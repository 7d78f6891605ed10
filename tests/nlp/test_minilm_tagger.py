"""The MiniLM tagger experiment's label alignment and scoring (no torch needed)."""

from __future__ import annotations

from tokenizers import Tokenizer

from nlp.encoder import tokenizer_file
from nlp.training.minilm_tagger import IGNORE, TAG_IDS, align_labels, loc_counts, prf, word_tags


def test_labels_go_on_each_words_first_piece_only() -> None:
    words = ["Flooding", "in", "Llanelli", "town", "centre"]
    tags = ["O", "O", "B-LOC", "O", "O"]
    enc = Tokenizer.from_file(str(tokenizer_file())).encode(words, is_pretokenized=True)
    labels = align_labels(enc.word_ids, tags)
    assert len(labels) == len(enc.ids)
    assert labels[0] == IGNORE and labels[-1] == IGNORE  # [CLS], [SEP]
    first = [i for i, w in enumerate(enc.word_ids) if w == 2]
    assert len(first) > 1, "Llanelli should be split into several pieces"
    assert labels[first[0]] == TAG_IDS["B-LOC"]
    assert all(labels[i] == IGNORE for i in first[1:])
    kept = [label for label in labels if label != IGNORE]
    assert kept == [TAG_IDS[t] for t in tags]


def test_word_tags_read_the_first_piece_and_leave_truncated_words_outside() -> None:
    word_ids = [None, 0, 1, 1, 2, None]
    pieces = [0, TAG_IDS["B-LOC"], TAG_IDS["I-LOC"], TAG_IDS["B-PER"], 0, 0]
    assert word_tags(word_ids, pieces, 4) == ["B-LOC", "I-LOC", "O", "O"]


def test_loc_counts_need_the_exact_span() -> None:
    gold = ["B-LOC", "I-LOC", "O", "B-LOC", "O", "B-PER"]
    pred = ["B-LOC", "O", "O", "B-LOC", "B-LOC", "B-LOC"]
    assert loc_counts(gold, pred) == (1, 3, 1)  # "New" alone is wrong; PER-as-LOC is a false place
    p, r, f = prf(*loc_counts(gold, pred))
    assert (round(p, 3), round(r, 3), round(f, 3)) == (0.25, 0.5, 0.333)
    assert prf(0, 0, 0) == (0.0, 0.0, 0.0)
