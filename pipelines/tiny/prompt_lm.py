"""A tiny Qwen2 instruct model (the class of Qwen/Qwen2.5-1.5B-Instruct) with an offline byte-level BPE
tokenizer and the ChatML chat template, saved in the Hub layout the prompt enhancer loads."""

from __future__ import annotations

from pathlib import Path

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# ChatML, the conversation format of Qwen2.5's chat template (the real template adds tool calling).
CHAT_TEMPLATE = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
                 "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()  # every byte has a piece: any text, Chinese too, encodes
    vocab = {piece: index for index, piece in enumerate(sorted(alphabet))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tok = Qwen2TokenizerFast(tokenizer_object=backend, unk_token=None, bos_token=None, eos_token="<|im_end|>",
                             pad_token="<|endoftext|>", additional_special_tokens=SPECIALS[1:])
    tok.add_special_tokens({"additional_special_tokens": SPECIALS[1:]})
    tok.chat_template = CHAT_TEMPLATE
    return tok


def qwen2(path: Path) -> None:
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tok = tokenizer()
    config = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192,
                         tie_word_embeddings=True, eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
                         pad_token_id=tok.pad_token_id, bos_token_id=None)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).eval()
    # Sampling as the real model's generation_config.json sets it; a short answer keeps the tiny run fast.
    model.generation_config = GenerationConfig(do_sample=True, temperature=0.7, top_p=0.8, top_k=20,
                                               repetition_penalty=1.05, max_new_tokens=16,
                                               eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id)
    model.save_pretrained(path)
    tok.save_pretrained(path)
