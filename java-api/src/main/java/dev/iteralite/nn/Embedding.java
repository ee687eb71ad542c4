package dev.iteralite.nn;

import dev.iteralite.backend.Backend;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.List;

/** Token embedding: I32 ids [T] to rows of a table [V, C]; no gradient flows to the ids. */
public final class Embedding implements Layer {
  private final Backend backend;
  private final long vocab;
  private final long dim;
  private final Parameter table;
  private Tensor savedIds;

  /** Declares {@code name.weight} [vocab, dim], initialised N(0, 0.02^2) as GPT-2/Mamba do. */
  public Embedding(Backend backend, ParameterSet.Builder params, String name, long vocab, long dim) {
    this.backend = backend;
    this.vocab = vocab;
    this.dim = dim;
    this.table = params.add(name + ".weight", Init.normal(0.02), true, vocab, dim);
  }

  public Parameter table() {
    return table;
  }

  public long vocabSize() {
    return vocab;
  }

  @Override
  public Tensor forward(Tensor ids, Arena arena) {
    if (ids == null || ids.dtype() != DType.I32 || ids.rank() != 1) {
      throw new IllegalArgumentException("Embedding: ids must be an I32 [T] tensor, got " + (ids == null ? "null" : ids.describe()));
    }
    Tensor out = arena.allocate(table.value().dtype(), ids.dim(0), dim);
    backend.embeddingForward(ids, table.value(), out);
    savedIds = ids;
    return out;
  }

  /** Accumulates the table gradient; returns null (token ids have no gradient). */
  @Override
  public Tensor backward(Tensor dy, Arena arena) {
    Shapes.requireSaved("Embedding", savedIds);
    Shapes.requireRank2("Embedding", "gradOutput", dy, dim);
    backend.embeddingBackward(savedIds, dy, table.grad());
    return null;
  }

  @Override
  public List<Parameter> parameters() {
    return List.of(table);
  }
}
