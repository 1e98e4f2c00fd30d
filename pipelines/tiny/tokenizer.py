"""Offline tokenizers for tiny models: a small Unigram vocab, built in milliseconds, no download."""

from __future__ import annotations

import string

# Enough pieces that English prompts (and a few common Chinese characters) split into real tokens.
_WORDS = (
    "a an the of and in on with at to from is are cat dog robot city night day sun rain snow sea beach forest "
    "mountain river car street light dance dancing walk walking run running fly flying person woman man girl boy "
    "face smile talk talking cinematic slow motion camera pan zoom close up wide shot style painting anime "
    "watercolor oil realistic photo red blue green yellow black white gold neon"
).split()
_CHINESE = list("一个猫狗人女男孩在的和里上下天夜城市海山雨雪光跳舞走路说话电影风格")


def unigram_vocab() -> list[tuple[str, float]]:
    pieces = [f"\u2581{w}" for w in _WORDS] + list(string.ascii_letters + string.digits + string.punctuation)
    pieces += ["\u2581"] + _CHINESE
    # Longer pieces score higher so whole words win over letters.
    return [(piece, -10.0 + min(len(piece), 8)) for piece in dict.fromkeys(pieces)]


def t5_tokenizer():
    """A T5/UMT5-style tokenizer (pad=0, eos=1, unk=2), as the Wan text encoder expects."""
    from transformers import T5Tokenizer

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + unigram_vocab()
    return T5Tokenizer(vocab=vocab, extra_ids=0)
