package dev.iteralite.generate;

import dev.iteralite.model.DecodeSession;
import dev.iteralite.model.KvCache;
import dev.iteralite.model.Transformer;

/**
 * The llama2.c {@link Transformer} seen as a {@link DecodeSession}: prompt tokens are forced one
 * position at a time through {@link Transformer#forward} (exactly llama2.c's loop) into a KV cache.
 */
final class TransformerSession implements DecodeSession {
  private final Transformer model;
  private final KvCache cache;
  private final boolean ownsCache;
  private int position;

  TransformerSession(Transformer model, KvCache cache, boolean ownsCache) {
    this.model = model;
    this.cache = cache;
    this.ownsCache = ownsCache;
  }

  @Override
  public float[] prefill(int[] prompt) {
    if (prompt == null || prompt.length == 0) {
      throw new IllegalArgumentException("transformer: the prompt needs at least one token");
    }
    int seqLen = model.config().seqLen();
    if (prompt.length > seqLen) {
      throw new IllegalArgumentException("transformer: prompt of " + prompt.length + " tokens exceeds the sequence length " + seqLen);
    }
    position = 0;
    float[] logits = null;
    for (int token : prompt) {
      logits = model.forward(token, position, cache);
      position++;
    }
    return logits;
  }

  @Override
  public float[] step(int token) {
    if (position >= model.config().seqLen()) {
      throw new IllegalStateException("transformer: the context is full (" + position + " tokens)");
    }
    float[] logits = model.forward(token, position, cache);
    position++;
    return logits;
  }

  @Override
  public int position() {
    return position;
  }

  @Override
  public int vocabSize() {
    return model.config().vocabSize();
  }

  @Override
  public void close() {
    if (ownsCache) {
      cache.close();
    }
  }
}
