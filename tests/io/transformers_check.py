"""Loads a `molt export` folder with Hugging Face transformers and checks that its loss on a
batch equals molt's (relative 1e-4), needing only torch and transformers (no h5py), so it
runs on a GPU box's usual Python. export_test.sh runs it; it prints SKIP and exits 0 where
transformers is not importable.

usage: transformers_check.py gpt2|t5 HF_DIR DUMP.json

DUMP.json is `molt eval RUN --batches 1 --dump-batch DUMP.json`: the first micro-batch molt
evaluated (inputs, decoder_inputs for T5, targets with -1 where no loss) and molt's mean
loss on it.
  gpt2: GPT2LMHeadModel(inputs).logits against targets (molt's targets are already the
        next tokens, so the loss is taken without the model's own shift);
  t5:   T5ForConditionalGeneration(input_ids=inputs, decoder_input_ids=decoder_inputs,
        labels=targets with -1 as -100).
"""
import json
import sys


def main(family, hf_dir, dump_path):
    try:
        import torch
        import transformers
    except ImportError as missing:
        print(f"SKIP: {missing.name} is not importable here; the {family} check is skipped")
        return 0
    dump = json.load(open(dump_path))
    inputs = torch.tensor(dump["inputs"], dtype=torch.long)
    targets = torch.tensor(dump["targets"], dtype=torch.long)
    ignore = int(dump["ignore_index"])
    if "prefix_lengths" in dump:
        sys.exit("a prefix-LM batch has no Hugging Face counterpart; dump a causal run")
    with torch.no_grad():
        if family == "gpt2":
            model = transformers.GPT2LMHeadModel.from_pretrained(hf_dir).eval()
            logits = model(input_ids=inputs).logits.float()
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=ignore)
        else:
            model = transformers.T5ForConditionalGeneration.from_pretrained(hf_dir).eval()
            decoder_inputs = torch.tensor(dump["decoder_inputs"], dtype=torch.long)
            labels = targets.masked_fill(targets == ignore, -100)
            loss = model(input_ids=inputs, decoder_input_ids=decoder_inputs, labels=labels).loss
    theirs, molt = float(loss), float(dump["loss"])
    rel = abs(theirs - molt) / abs(molt)
    name = type(model).__name__
    print(f"{name} (transformers {transformers.__version__}): loss {theirs:.7f}, "
          f"molt {molt:.7f}, relative difference {rel:.2e}")
    if rel > 1e-4:
        print(f"FAILED: {name} disagrees with molt by {rel:.2e} (> 1e-4)")
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("gpt2", "t5"):
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:4]))
