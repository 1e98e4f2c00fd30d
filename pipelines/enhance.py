"""Improve my prompt: a small instruct language model rewrites a short prompt into the detailed, camera-aware
description the Wan and LTX video models were trained on, in the prompt's own language (English or Chinese).

The approach follows Wan's official prompt extension (Wan2.2 `wan/utils/prompt_extend.py`, QwenPromptExpander:
a Qwen2.5 instruct model, one system message and the user's prompt through the chat template, `generate` with
`max_new_tokens=512` and the model's own sampling settings, only the new tokens decoded). The system messages
below are ours, written in the manner of its `wan/utils/system_prompt.py` (cinematic time, light, colour, shot
size, angle and composition added without changing the subject or action; motion spelled out; 60-200 words;
only the prompt in the answer).

Model: Qwen/Qwen2.5-1.5B-Instruct, Apache-2.0 (model card), ~3 GB in bf16, small enough to sit beside the video
model; it runs in its own short GPU window before the video's. No UI code here.
"""

from __future__ import annotations

import re
import unicodedata

from pipelines import runtime
from pipelines.checks import check_prompt

REPO_ID = "Qwen/Qwen2.5-1.5B-Instruct"
TINY_BUILDER = "prompt_lm:qwen2"
MAX_NEW_TOKENS = 512  # Wan2.2 wan/utils/prompt_extend.py, QwenPromptExpander.extend
GPU_SECONDS = 30
CHINESE = re.compile(r"[\u3400-\u9fff]")
LABEL = re.compile(r"^\s*(rewritten prompt|improved prompt|prompt|改写后的?prompt|改写后|提示词)\s*[:：]\s*", re.I)

_T2V_EN = """You are a film director. Rewrite the user's video prompt into one detailed, vivid English prompt for a \
text-to-video model. Rules:
1. Keep the subject, the action and the meaning. Never add people, animals or objects the user did not ask for.
2. Add up to four cinematic choices that suit the scene: time of day (day unless stated), light source and \
quality (soft or hard, side, top or edge lighting), colour tone (warm, cool or mixed), shot size (medium or wide \
shot unless stated), camera angle (skip it if the user already describes a camera move) and composition.
3. Describe the subject's appearance, expression and pose, and add concrete background details.
4. Spell out how the action unfolds over time; if nothing moves, add natural motion (hair in the wind, drifting \
clouds, swaying leaves).
5. If the user names a style (anime, watercolor, 3D render...), put it first and leave out film-camera terms \
that contradict it. Do not invent a style.
6. No mood words or literary commentary ("full of energy", "a sense of wonder").
7. Write 60 to 200 words, in English, and answer with the prompt only, without a label or quotes."""

_T2V_ZH = """你是一位电影导演。请把用户的视频提示词改写成一段完整、生动的中文提示词，供文生视频模型使用。要求：
1. 保留原意：主体、动作和含义不变，不要添加用户没有提到的人物、动物或物体。
2. 从以下电影设定中选择最多四项适合画面的加入：时间（未说明时为白天）、光源与光线（柔光或硬光、侧光、顶光或边缘光）、\
色调（暖色调、冷色调或混合色调）、镜头尺寸（未说明时用中景或全景）、拍摄角度（用户已描述运镜时不要添加）和构图。
3. 补充主体的外貌、表情和姿态，并加入具体的背景细节。
4. 详细描述动作如何随时间展开；如果画面中没有动作，加入自然的运动（风吹头发、云朵飘动、树叶摇曳）。
5. 如果用户指定了风格（动漫、水彩、三维渲染等），把风格放在最前面，并省略与之矛盾的电影镜头描述；不要自行添加风格。
6. 不要写氛围、感受之类的文学性描述。
7. 改写后控制在 60 到 200 字，只输出改写后的提示词，不要加“改写后”之类的前缀或引号。"""

_I2V_EN = """You rewrite prompts for an image-to-video model: the picture is already given, so the prompt should \
say what moves. Rewrite the user's prompt into one clear English prompt. Rules:
1. Keep every action and camera move the user describes ("the camera pans left", "pushes in").
2. If the user only gives an action ("dancing"), name who or what does it in simple words.
3. Spell out how the motion unfolds: who moves, in which direction, what happens next; add small natural \
motion of the surroundings where it fits.
4. Do not describe what stands still; do not add style, mood or new subjects.
5. Write under 100 words, in English, and answer with the prompt only, without a label or quotes."""

_I2V_ZH = """你负责为图生视频模型改写提示词：画面已经给定，提示词应当描述画面中会动的内容。请把用户的提示词改写成一段清晰的中文提示词。要求：
1. 保留用户描述的所有动作和运镜（如“镜头左移”“镜头前推”）。
2. 如果用户只给出了动作（如“跳舞”），用简单的话补上动作的主体。
3. 详细描述运动的过程：谁在动、朝哪个方向、接下来发生什么；合适时加入周围环境的细微运动。
4. 不要描述静止的内容，不要添加风格、氛围或新的主体。
5. 改写后控制在 100 字以内，只输出改写后的提示词，不要加前缀或引号。"""

SYSTEM_PROMPTS = {("text_to_video", "en"): _T2V_EN, ("text_to_video", "zh"): _T2V_ZH,
                  ("image_to_video", "en"): _I2V_EN, ("image_to_video", "zh"): _I2V_ZH}


def language(prompt: str) -> str:
    """"zh" when the prompt is written in Chinese, else "en": the rewrite keeps the person's language."""
    return "zh" if CHINESE.search(prompt) else "en"


def system_prompt(task: str, lang: str) -> str:
    if (task, lang) not in SYSTEM_PROMPTS:
        tasks = sorted({t for t, _ in SYSTEM_PROMPTS})
        raise ValueError(f"Prompts can be improved for {', '.join(tasks)} in English or Chinese, not {task!r}/{lang!r}.")
    return SYSTEM_PROMPTS[(task, lang)]


def _load():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = runtime.hub_folder(REPO_ID, TINY_BUILDER, allow_patterns=["*.json", "*.safetensors", "*.txt"])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=runtime.compute_dtype()).to(runtime.device()).eval()
    return tokenizer, model


def model():
    """(tokenizer, model), loaded once and kept beside the video pipelines."""
    return runtime.cached(("prompt-enhancer", REPO_ID), _load, size_gb=3.1)


@runtime.gpu_task(duration=GPU_SECONDS)
def _generate(system: str, prompt: str, seed: int) -> str:
    """Inside its own short GPU window: one chat turn, only the new tokens decoded."""
    import torch

    tokenizer, lm = model()
    messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer([text], return_tensors="pt").to(lm.device)
    torch.manual_seed(seed)  # the model samples (its generation_config): a seed makes a rewrite repeatable
    limit = min(MAX_NEW_TOKENS, lm.generation_config.max_new_tokens or MAX_NEW_TOKENS)
    with torch.no_grad():
        output = lm.generate(**inputs, max_new_tokens=limit)
    return tokenizer.batch_decode(output[:, inputs.input_ids.shape[1]:], skip_special_tokens=True)[0]


def clean(text: str) -> str:
    """The model's answer as a prompt: printable text on one line, without a leading label or quotes."""
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text.replace("\ufffd", ""))
    text = LABEL.sub("", " ".join(text.split())).strip().strip("\"'“”")
    return text.strip()


def improve(prompt: str, task: str = "text_to_video", seed: int = 0) -> str:
    """The prompt rewritten in detail, in its own language; raises ValueError for an empty prompt."""
    prompt, _ = check_prompt(prompt, "")
    system = system_prompt(task, language(prompt))
    model()  # download + load outside the GPU window
    rewritten = clean(_generate(system, prompt, int(seed)))
    if not rewritten:
        raise ValueError("The prompt helper returned nothing this time; press Improve again or write a few more words.")
    return rewritten
