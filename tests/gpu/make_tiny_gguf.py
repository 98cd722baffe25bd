"""Writes a small llama-architecture GGUF model with random weights, so llama.cpp can be run under the shim with no download."""
import argparse
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("output", help="the .gguf file to write")
    ap.add_argument("--gguf-py", help="folder of llama.cpp's gguf-py, where the gguf package is not installed")
    ap.add_argument("--embd", type=int, default=512)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--ff", type=int, default=1408)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--context", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.gguf_py:
        sys.path.insert(0, args.gguf_py)
    import numpy as np
    import gguf

    rng = np.random.default_rng(args.seed)
    w = gguf.GGUFWriter(args.output, "llama")
    w.add_name("wslalloc-tiny-random")
    w.add_context_length(args.context)
    w.add_embedding_length(args.embd)
    w.add_block_count(args.layers)
    w.add_feed_forward_length(args.ff)
    w.add_head_count(args.heads)
    w.add_head_count_kv(args.kv_heads)
    w.add_rope_dimension_count(args.embd // args.heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

    # A SentencePiece vocabulary: unknown, BOS, EOS, the 256 byte tokens
    # every text falls back to, and a few pieces so that words tokenize.
    tokens, scores, types = [b"<unk>", b"<s>", b"</s>"], [0.0, 0.0, 0.0], [
        gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    for b in range(256):
        tokens.append(f"<0x{b:02X}>".encode())
        scores.append(0.0)
        types.append(gguf.TokenType.BYTE)
    for i, piece in enumerate(["\u2581", "\u2581the", "\u2581a", "e", "t", "o", "n", "\u2581hello",
                               "\u2581world", "s", "r", "l"]):
        tokens.append(piece.encode())
        scores.append(-float(i))
        types.append(gguf.TokenType.NORMAL)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    vocab = len(tokens)
    w.add_vocab_size(vocab)

    def weight(rows, cols):
        # numpy's (rows, cols) is GGUF's ne = {cols, rows}.
        return (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float16)

    embd, kv = args.embd, args.embd // args.heads * args.kv_heads
    w.add_tensor("token_embd.weight", weight(vocab, embd))
    w.add_tensor("output_norm.weight", np.ones(embd, dtype=np.float32))
    w.add_tensor("output.weight", weight(vocab, embd))
    for i in range(args.layers):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", np.ones(embd, dtype=np.float32))
        w.add_tensor(p + "attn_q.weight", weight(embd, embd))
        w.add_tensor(p + "attn_k.weight", weight(kv, embd))
        w.add_tensor(p + "attn_v.weight", weight(kv, embd))
        w.add_tensor(p + "attn_output.weight", weight(embd, embd))
        w.add_tensor(p + "ffn_norm.weight", np.ones(embd, dtype=np.float32))
        w.add_tensor(p + "ffn_gate.weight", weight(args.ff, embd))
        w.add_tensor(p + "ffn_down.weight", weight(embd, args.ff))
        w.add_tensor(p + "ffn_up.weight", weight(args.ff, embd))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
